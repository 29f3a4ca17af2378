// The demo page: pick a network and its weights, pick an image, see the top 5 and a per-step GPU
// profile; teach it classes of your own (demo/teach.ts); benchmark this GPU (demo/benchmark.ts). Everything runs through the library's public API (../src/index.ts) on this page's
// WebGPU device. Every failure is shown in the page (#errors), never only in the console.
//
// State the browser tests read (test/browser/demo.test.ts):
//   body[data-model-state]   'none' | 'loading' | 'ready' | 'error'
//   #results[data-image]     the name of the image the list shows results for
//   #results li[data-probability|data-index|data-label]   full-precision top-5
//   #profile-chart tr.timing[data-ms]                     per-step GPU times

import {
  acquireDevice, ARCHITECTURES, clearWeightsCache, DEFAULT_WEIGHTS_URL, describeDevice, loadModel, parseSafetensors,
  WebGPUUnavailableError, WeightsFormatError, type GpuContext, type LoadProgress, type Model, type ProfileResult,
} from '../src/index.js';
import { formatBytes, renderResults, renderTimings, type TimingRow } from './charts.js';
import { decodeImage, drawPreview, fetchImage, isImageFile, Webcam } from './images.js';
import { cachedBytes, cacheSummary, fetchWeights, storeBytes } from './weights-cache.js';
import { convertToSafetensors, generateRandomWeights, isSafetensors } from './convert.js';
import { HUB_MODELS, hubModelLabel } from './hub-models.js';
import { KNOWN_WEIGHTS } from './known-weights.js';
import { Teacher } from './teach.js';
import { BenchmarkPanel } from './benchmark.js';

// ---- Assets -------------------------------------------------------------------------------------

/** Fashion-MNIST sample PNGs (28x28 grey) shipped with the embedded model. */
const FASHION_SAMPLES: { name: string; url: string }[] = Object.entries(
  import.meta.glob('../assets/fashion-mnist/samples/*.png', { eager: true, query: '?url', import: 'default' }) as
    Record<string, string>,
).map(([path, url]) => ({ name: path.slice(path.lastIndexOf('/') + 1), url }))
  .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));

/** Photos for the ImageNet models (demo/public/samples/imagenet, licences in LICENSE there). */
const PHOTO_SAMPLES = [
  { name: 'chelsea.png', url: './samples/imagenet/chelsea.png', alt: 'Chelsea the cat' },
  { name: 'coffee.png', url: './samples/imagenet/coffee.png', alt: 'A cup of coffee' },
  { name: 'astronaut.png', url: './samples/imagenet/astronaut.png', alt: 'The astronaut Eileen Collins' },
];

const EMBEDDED = 'fashion-mnist';

// ---- DOM ----------------------------------------------------------------------------------------

function $<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`demo page is missing #${id}`);
  return el as T;
}

const ui = {
  gpuStatus: $('gpu-status'),
  errors: $('errors'),
  modelSelect: $<HTMLSelectElement>('model-select'),
  imagenetOptions: $<HTMLOptGroupElement>('imagenet-options'),
  hubOptions: $<HTMLOptGroupElement>('hub-options'),
  weightsFieldset: $<HTMLFieldSetElement>('weights-fieldset'),
  weightsArch: $('weights-arch'),
  weightsUrl: $<HTMLInputElement>('weights-url'),
  weightsUrlLoad: $<HTMLButtonElement>('weights-url-load'),
  weightsDrop: $('weights-drop'),
  weightsFile: $<HTMLInputElement>('weights-file'),
  weightsRandom: $<HTMLButtonElement>('weights-random'),
  loadBlock: $('load-block'),
  loadPhase: $('load-phase'),
  loadProgress: $<HTMLProgressElement>('load-progress'),
  loadBytes: $('load-bytes'),
  modelInfo: $('model-info'),
  clearCache: $<HTMLButtonElement>('clear-cache'),
  cacheInfo: $('cache-info'),
  imageDrop: $('image-drop'),
  imageFile: $<HTMLInputElement>('image-file'),
  gallery: $<HTMLUListElement>('gallery'),
  galleryCredit: $('gallery-credit'),
  webcamBlock: $('webcam-block'),
  webcamToggle: $<HTMLButtonElement>('webcam-toggle'),
  webcamSnap: $<HTMLButtonElement>('webcam-snap'),
  webcamVideo: $<HTMLVideoElement>('webcam-video'),
  preview: $<HTMLCanvasElement>('preview'),
  results: $<HTMLOListElement>('results'),
  resultInfo: $('result-info'),
  profileRun: $<HTMLButtonElement>('profile-run'),
  profileSupport: $('profile-support'),
  profileSummary: $('profile-summary'),
  profileChart: $('profile-chart'),
};

// ---- Errors -------------------------------------------------------------------------------------

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const name = e.name && e.name !== 'Error' ? `${e.name}: ` : '';
    return `${name}${e.message}`;
  }
  return String(e);
}

/** Shows an error in the page (and the console, for the stack). */
function showError(context: string, e: unknown): void {
  console.error(context, e);
  const box = document.createElement('div');
  box.className = 'error';
  const p = document.createElement('p');
  p.textContent = `${context}: ${errorText(e)}`;
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'secondary';
  close.textContent = 'Dismiss';
  close.setAttribute('aria-label', `Dismiss: ${context}`);
  close.addEventListener('click', () => box.remove());
  box.append(p, close);
  ui.errors.append(box);
}

function clearErrors(): void {
  ui.errors.replaceChildren();
}

window.addEventListener('error', (ev) => showError('Unexpected error', ev.error ?? ev.message));
window.addEventListener('unhandledrejection', (ev) => showError('Unexpected error', ev.reason));

// ---- State --------------------------------------------------------------------------------------

interface ImageInput {
  name: string;
  bitmap: ImageBitmap;
}

const state = {
  ctx: undefined as GpuContext | undefined,
  model: undefined as Model | undefined,
  /** Which model is loaded or loading: 'fashion-mnist', an architecture, or a file name. */
  modelName: '',
  /** Bumped by every load, so a slow load that was overtaken does not install its model. */
  loadGeneration: 0,
  image: undefined as ImageInput | undefined,
  /** What the .pth converter or the random generator said (shown with the model info). */
  conversionNotes: [] as string[],
  /** GPU work (load, classify, profile) runs one at a time. */
  queue: Promise.resolve() as Promise<unknown>,
};

function setModelState(s: 'none' | 'loading' | 'ready' | 'error'): void {
  document.body.dataset.modelState = s;
  updateProfileButton();
}

function updateProfileButton(): void {
  ui.profileRun.disabled = document.body.dataset.modelState !== 'ready' || !state.image || !state.ctx?.hasTimestampQuery;
}

function serial<T>(job: () => Promise<T>): Promise<T> {
  const run = state.queue.then(job, job);
  state.queue = run.catch(() => undefined);
  return run;
}

// ---- WebGPU -------------------------------------------------------------------------------------

async function initGpu(): Promise<boolean> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    const secure = window.isSecureContext;
    ui.gpuStatus.className = 'gpu-status bad';
    ui.gpuStatus.textContent = secure
      ? 'This browser has no WebGPU. Use Chrome or Edge 113+ (on Linux start it with --enable-unsafe-webgpu, ' +
        'or enable chrome://flags/#enable-unsafe-webgpu), Safari 26+, or Firefox 141+ (Nightly: dom.webgpu.enabled).'
      : `WebGPU needs a secure context: open this page over https or from http://localhost (this page is ${location.origin}).`;
    return false;
  }
  try {
    const ctx = await acquireDevice();
    state.ctx = ctx;
    const info = ctx.adapterInfo;
    const name = [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' ') || 'unknown adapter';
    ui.gpuStatus.className = 'gpu-status ok';
    ui.gpuStatus.textContent = `WebGPU ready: ${name} (${ctx.featureLevel}${ctx.cpuBacked ? ', software/CPU adapter: slow' : ''})` +
      ` · timestamp queries: ${ctx.hasTimestampQuery ? 'yes' : 'no'}`;
    ui.gpuStatus.title = describeDevice(ctx);
    document.body.dataset.adapter = `${info.vendor}/${info.architecture}`;
    ui.profileSupport.textContent = ctx.hasTimestampQuery
      ? ''
      : 'This adapter has no timestamp-query feature, so per-step GPU times are not available ' +
        '(Chrome: --enable-dawn-features=allow_unsafe_apis, or a GPU that supports it).';
    void ctx.lost.then((lost) => {
      if (lost.reason === 'destroyed') return;
      ui.gpuStatus.className = 'gpu-status bad';
      ui.gpuStatus.textContent = `The GPU device was lost (${lost.reason}): ${lost.message}. Reload the page.`;
      showError('GPU device lost', lost.message || lost.reason);
      setModelState('error');
    });
    return true;
  } catch (e) {
    ui.gpuStatus.className = 'gpu-status bad';
    ui.gpuStatus.textContent = e instanceof WebGPUUnavailableError ? e.message : `WebGPU failed to start: ${errorText(e)}`;
    return false;
  }
}

// ---- Loading ------------------------------------------------------------------------------------

const PHASE_TEXT: Record<string, string> = {
  download: 'Downloading', cache: 'Reading from cache', convert: 'Converting .pth', 'hub-convert': 'Converting from timm\'s layout',
  generate: 'Generating random weights',
  parse: 'Reading tensors', upload: 'Uploading to the GPU', compile: 'Compiling GPU pipelines', done: 'Ready',
};

/** Phases whose progress counts pipelines (plan steps), not bytes. */
const COUNTED_PHASES = new Set(['compile']);

function showProgress(phase: string, loaded?: number, total?: number): void {
  ui.loadBlock.classList.toggle('done', phase === 'done');
  ui.loadPhase.textContent = `${PHASE_TEXT[phase] ?? phase}${phase === 'done' ? '' : '…'}`;
  ui.loadBlock.dataset.phase = phase;
  const amount = COUNTED_PHASES.has(phase) ? (n: number) => `${n}` : formatBytes;
  const unit = COUNTED_PHASES.has(phase) ? ' steps' : '';
  if (total !== undefined && total > 0 && loaded !== undefined) {
    ui.loadProgress.max = total;
    ui.loadProgress.value = Math.min(loaded, total);
    ui.loadBytes.textContent = `${amount(loaded)} / ${amount(total)}${unit}`;
  } else if (loaded !== undefined) {
    ui.loadProgress.removeAttribute('value'); // indeterminate
    ui.loadBytes.textContent = `${amount(loaded)}${unit}`;
  } else {
    ui.loadProgress.removeAttribute('value');
    ui.loadBytes.textContent = '';
  }
  if (phase === 'done') { ui.loadProgress.max = 1; ui.loadProgress.value = 1; }
  if (phase === 'failed') { ui.loadProgress.max = 1; ui.loadProgress.value = 0; }
}

/**
 * The library's progress. 'download' is a download (or a read from the package's weights cache)
 * for a URL, and its reading of the bytes we hand it otherwise: parsing.
 */
function onLoadProgress(p: LoadProgress): void {
  if (p.phase === 'download' && p.fromCache !== undefined) {
    ui.loadBytes.dataset.fromCache = String(p.fromCache);
    showProgress(p.fromCache ? 'cache' : 'download', p.loaded, p.total);
    return;
  }
  // The library's 'convert' is a Hub model's (renaming timm's tensors while they download).
  showProgress(p.phase === 'download' ? 'parse' : p.phase === 'convert' ? 'hub-convert' : p.phase, p.loaded, p.total);
}

interface LoadRequest {
  name: string;
  /**
   * Produces the .safetensors bytes (file read, conversion or generation), or the URL of a
   * .safetensors file, which the library downloads and caches.
   */
  bytes: (generation: number) => Promise<Uint8Array | string>;
  /** Architecture to build when the file's metadata does not name one. */
  arch?: string;
}

function loadWeights(req: LoadRequest): Promise<void> {
  const generation = ++state.loadGeneration;
  state.modelName = req.name;
  clearErrors(); // errors about the model being replaced are no longer news
  document.body.dataset.modelName = req.name;
  setModelState('loading');
  ui.modelInfo.textContent = '';
  return serial(async () => {
    if (generation !== state.loadGeneration) return; // overtaken before it started
    const ctx = state.ctx;
    if (!ctx) throw new Error('WebGPU is not available in this browser (see the message at the top)');
    state.model?.dispose();
    state.model = undefined;
    ui.results.replaceChildren();
    delete ui.results.dataset.image;
    ui.resultInfo.textContent = state.image ? 'Waiting for the model…' : 'Pick an image.';
    ui.profileChart.replaceChildren();
    ui.profileSummary.textContent = '';
    const t0 = performance.now();
    state.conversionNotes = [];
    try {
      const bytes = await req.bytes(generation);
      if (generation !== state.loadGeneration) return;
      const model = typeof bytes === 'string' ? await loadUrl(bytes, ctx, req.arch) : await loadBytes(bytes, ctx, req.arch);
      if (generation !== state.loadGeneration) { model.dispose(); return; }
      state.model = model;
      showProgress('done');
      ui.modelInfo.textContent = describeModel(model, req.name, performance.now() - t0);
      setModelState('ready');
      setGallery(model.info.inputChannels === 1 ? 'fashion' : 'photos');
      void refreshCacheInfo();
      void teacher.modelChanged();
    } catch (e) {
      if (generation !== state.loadGeneration) return;
      setModelState('error');
      showProgress('failed');
      ui.loadPhase.textContent = `Loading ${req.name} failed`;
      ui.resultInfo.textContent = 'No model loaded: see the error above.';
      showError(`Could not load ${req.name}`, e);
      return;
    }
    if (state.image) await classifyNow();
  });
}

function loadBytes(bytes: Uint8Array, ctx: GpuContext, arch: string | undefined): Promise<Model> {
  const fileArch = architectureInFile(bytes);
  if (fileArch && arch && fileArch !== arch) state.conversionNotes.push(`the file holds ${fileArch}, not the chosen ${arch}: using the file's`);
  return loadModel({ weights: bytes, arch: fileArch ? undefined : arch, device: ctx, onProgress: onLoadProgress });
}

/**
 * A .safetensors URL, through the library's download and cache: its metadata's architecture wins,
 * the chosen `arch` is used when the file names none.
 */
async function loadUrl(url: string, ctx: GpuContext, arch: string | undefined): Promise<Model> {
  let model: Model;
  try {
    model = await loadModel({ weights: url, device: ctx, onProgress: onLoadProgress, hubEndpoint: HUB_ENDPOINT });
  } catch (e) {
    if (!arch || !(e instanceof WeightsFormatError) || !/no architecture given/.test(e.message)) throw e;
    return loadModel({ weights: url, arch, device: ctx, onProgress: onLoadProgress });
  }
  if (arch && model.info.arch !== arch) state.conversionNotes.push(`the file holds ${model.info.arch}, not the chosen ${arch}: using the file's`);
  return model;
}

/**
 * The architecture a .safetensors file names in its metadata ('arch', with 'config' for a custom
 * one), if any: the file knows best what it holds, so it wins over the picker. Unreadable headers
 * give undefined here and a clear error from loadModel.
 */
function architectureInFile(bytes: Uint8Array): string | undefined {
  try {
    const meta = parseSafetensors(bytes).metadata;
    if (meta.arch === 'custom') return (JSON.parse(meta.config ?? '{}') as { name?: string }).name ?? 'custom';
    return meta.arch && meta.arch !== 'unknown' ? meta.arch : undefined;
  } catch {
    return undefined;
  }
}

function describeModel(model: Model, name: string, ms: number): string {
  const i = model.info;
  const lines = [
    `${name}: ${i.arch}, ${i.params.toLocaleString('en')} parameters`,
    `input ${i.inputSize}×${i.inputSize} ${i.colorSpace}, ${i.numClasses} classes, ${(i.flops / 1e9).toFixed(3)} GFLOP per image`,
    `GPU memory: ${formatBytes(i.weightBytes)} weights, ${formatBytes(i.peakActivationBytes)} activations ` +
      `(${formatBytes(i.unsharedActivationBytes)} without buffer reuse)`,
    `loaded in ${(ms / 1000).toFixed(2)} s`,
    ...state.conversionNotes,
  ];
  return lines.join('\n');
}

function loadEmbedded(): Promise<void> {
  return loadWeights({
    name: 'Fashion-MNIST ResNeXt',
    bytes: async () => DEFAULT_WEIGHTS_URL.href,
  });
}

/** Turns any checkpoint bytes into .safetensors bytes: as is, or converted from a PyTorch .pth. */
async function toSafetensors(bytes: Uint8Array, name: string, arch?: string): Promise<Uint8Array> {
  if (isSafetensors(bytes)) return bytes;
  showProgress('convert');
  const out = await convertToSafetensors(bytes, { arch, name }, (done, total) => showProgress('convert', done, total));
  state.conversionNotes = out.notes;
  return out.bytes;
}

/** A URL whose name says PyTorch checkpoint (.pth, .pt, .bin, .tar), to be converted here. */
function isCheckpointUrl(url: string): boolean {
  return /\.(pth|pt|bin|tar)([?#]|$)/i.test(url);
}

function selectedArch(): string | undefined {
  const v = ui.modelSelect.value;
  return v === EMBEDDED || v === 'file' || isHubModel(v) ? undefined : v;
}

function isHubModel(v: string): boolean {
  return v.startsWith('hf-hub:');
}

/** The Hub's address: https://huggingface.co unless the page's query names a mirror (?hub-endpoint=URL). */
const HUB_ENDPOINT = new URLSearchParams(location.search).get('hub-endpoint') ?? undefined;

/** A Hub model by id: the library downloads, converts and caches it (offline from the cache). */
function loadHub(id: string): Promise<void> {
  return loadWeights({ name: id.slice('hf-hub:'.length), bytes: async () => id });
}

function loadFromUrl(): void {
  const url = ui.weightsUrl.value.trim();
  if (!url) { showError('Weights URL', 'enter the address of a .safetensors or .pth file'); ui.weightsUrl.focus(); return; }
  const arch = selectedArch();
  void loadWeights({
    name: url.slice(url.lastIndexOf('/') + 1) || url,
    arch,
    bytes: async () => {
      if (!isCheckpointUrl(url)) return new URL(url, location.href).href; // a .safetensors: the library's cache
      // A .pth is cached as its conversion, so a reload skips both the download and the conversion.
      const convertedKey = `${new URL(url, location.href).href}#converted:${arch ?? 'auto'}`;
      const converted = await cachedBytes(convertedKey);
      if (converted) {
        showProgress('cache', converted.byteLength, converted.byteLength);
        state.conversionNotes = ['converted earlier (from the cache)'];
        return converted;
      }
      const bytes = await fetchWeights(url, (p) => showProgress('download', p.loaded, p.total));
      if (isSafetensors(bytes)) return bytes;
      const out = await toSafetensors(bytes, url, arch);
      await storeBytes(convertedKey, out);
      return out;
    },
  });
}

function loadFromFile(file: File): void {
  const arch = selectedArch();
  if (arch === undefined) {
    // The file brings its own architecture (metadata): say so in the picker.
    const option = $<HTMLOptionElement>('file-option');
    option.textContent = `From a file: ${file.name}`;
    option.hidden = false;
    ui.modelSelect.value = 'file';
    ui.weightsFieldset.hidden = true;
  }
  void loadWeights({
    name: file.name,
    arch,
    bytes: async () => {
      showProgress('download', 0, file.size);
      const bytes = new Uint8Array(await file.arrayBuffer());
      showProgress('download', bytes.byteLength, file.size);
      return toSafetensors(bytes, file.name, arch);
    },
  });
}

function loadRandom(): void {
  const arch = selectedArch();
  if (!arch) return;
  void loadWeights({
    name: `${arch} (random weights)`,
    arch,
    bytes: async () => {
      showProgress('generate');
      const out = await generateRandomWeights(arch, 1);
      state.conversionNotes = out.notes;
      return out.bytes;
    },
  });
}

// ---- Model picker -------------------------------------------------------------------------------

function fillModelPicker(): void {
  for (const m of HUB_MODELS) {
    const o = document.createElement('option');
    o.value = m.id;
    o.textContent = hubModelLabel(m);
    ui.hubOptions.append(o);
  }
  for (const name of Object.keys(ARCHITECTURES)) {
    const o = document.createElement('option');
    o.value = name;
    o.textContent = name;
    ui.imagenetOptions.append(o);
  }
}

function onModelSelected(): void {
  const v = ui.modelSelect.value;
  const embedded = v === EMBEDDED;
  if (isHubModel(v)) {
    ui.weightsFieldset.hidden = true;
    void loadHub(v);
    return;
  }
  ui.weightsFieldset.hidden = embedded;
  ui.weightsArch.textContent = v;
  if (!embedded) ui.weightsUrl.value = KNOWN_WEIGHTS[v] ?? '';
  if (embedded) {
    void loadEmbedded();
    return;
  }
  // An ImageNet network: nothing to run until the user picks weights.
  ++state.loadGeneration;
  void serial(async () => { state.model?.dispose(); state.model = undefined; await teacher.modelChanged(); });
  state.modelName = v;
  document.body.dataset.modelName = v;
  setModelState('none');
  ui.results.replaceChildren();
  ui.profileChart.replaceChildren();
  ui.profileSummary.textContent = '';
  ui.modelInfo.textContent = `${v}: choose weights above (a URL, a file, or random weights for benchmarking).`;
  showProgress('waiting for weights');
  ui.resultInfo.textContent = 'Load weights to classify.';
  setGallery('photos');
}

// ---- Images -------------------------------------------------------------------------------------

let galleryKind: 'fashion' | 'photos' | undefined;

function setGallery(kind: 'fashion' | 'photos'): void {
  if (kind === galleryKind) return;
  galleryKind = kind;
  const items = kind === 'fashion'
    ? FASHION_SAMPLES.map((s) => ({ ...s, alt: `Fashion-MNIST test image ${s.name.replace(/\.png$/, '').replace(/[_-]+/g, ' ')}` }))
    : PHOTO_SAMPLES;
  ui.gallery.classList.toggle('photos', kind === 'photos');
  ui.galleryCredit.textContent = kind === 'fashion'
    ? 'Fashion-MNIST test images (Zalando SE, MIT licence).'
    : 'scikit-image sample photos (CC0 / public domain).';
  ui.gallery.replaceChildren(...items.map((s) => {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.sample = s.name;
    b.setAttribute('aria-pressed', String(state.image?.name === s.name));
    b.title = s.alt;
    const img = document.createElement('img');
    img.src = s.url;
    img.alt = s.alt;
    b.append(img);
    b.addEventListener('click', () => {
      void (async () => {
        try { await setImage(s.name, await fetchImage(s.url)); } catch (e) { showError(`Sample ${s.name}`, e); }
      })();
    });
    li.append(b);
    return li;
  }));
  if (items.length === 0) ui.galleryCredit.textContent = 'No sample images were bundled with this build.';
}

async function setImage(name: string, bitmap: ImageBitmap): Promise<void> {
  state.image?.bitmap.close();
  state.image = { name, bitmap };
  drawPreview(ui.preview, bitmap);
  ui.preview.setAttribute('aria-label', `The image being classified: ${name}`);
  for (const b of ui.gallery.querySelectorAll<HTMLButtonElement>('button[data-sample]')) {
    b.setAttribute('aria-pressed', String(b.dataset.sample === name));
  }
  ui.profileChart.replaceChildren();
  ui.profileSummary.textContent = '';
  updateProfileButton();
  await serial(classifyNow);
}

async function setImageFromFile(file: File): Promise<void> {
  try {
    await setImage(file.name || 'pasted image', await decodeImage(file, file.name || 'the pasted image'));
  } catch (e) {
    showError(`Image ${file.name || ''}`.trim(), e);
  }
}

/** Classifies the current image with the current model (call inside serial()). */
async function classifyNow(): Promise<void> {
  const { model, image } = state;
  if (!image) return;
  if (!model) {
    ui.resultInfo.textContent = document.body.dataset.modelState === 'loading' ? 'Waiting for the model…' : 'Load a model to classify.';
    return;
  }
  ui.resultInfo.textContent = `Classifying ${image.name}…`;
  try {
    const t0 = performance.now();
    const top = await model.classify(image.bitmap, { topK: 5 });
    const ms = performance.now() - t0;
    if (state.model !== model || state.image !== image) return; // superseded meanwhile
    renderResults(ui.results, top);
    ui.results.dataset.image = image.name;
    ui.results.dataset.model = state.modelName;
    ui.resultInfo.textContent = `${image.name}: ${ms.toFixed(1)} ms in the page (upload, GPU, readback).`;
  } catch (e) {
    ui.results.replaceChildren();
    delete ui.results.dataset.image;
    ui.resultInfo.textContent = 'Classification failed (see the error above).';
    showError(`Classifying ${image.name}`, e);
  }
}

// ---- Profile ------------------------------------------------------------------------------------

function timingRows(p: ProfileResult): TimingRow[] {
  return p.steps.map((s) => ({ name: s.name, ms: s.ms, flops: s.flops > 0 ? s.flops : undefined }));
}

function runProfile(): void {
  void serial(async () => {
    const { model, image, ctx } = state;
    if (!model || !image) return;
    if (!ctx?.hasTimestampQuery) {
      ui.profileSummary.textContent = 'Per-step timing needs the timestamp-query feature, which this adapter does not offer.';
      return;
    }
    ui.profileSummary.textContent = 'Profiling…';
    try {
      const p = await model.profile(image.bitmap);
      const rows = timingRows(p);
      ui.profileSummary.textContent = `${image.name}: ${p.totalMs.toFixed(2)} ms on the GPU over ${rows.length} steps, ` +
        `${(p.flops / 1e9).toFixed(3)} GFLOP, ${p.gflops.toFixed(2)} GFLOP/s`;
      ui.profileSummary.dataset.totalMs = String(p.totalMs);
      renderTimings(ui.profileChart, rows);
    } catch (e) {
      ui.profileSummary.textContent = 'Profiling failed (see the error above).';
      showError('Profiling', e);
    }
  });
}

// ---- Cache --------------------------------------------------------------------------------------

async function refreshCacheInfo(): Promise<void> {
  try {
    const { entries, bytes } = await cacheSummary();
    ui.cacheInfo.textContent = entries ? `${entries} file${entries > 1 ? 's' : ''} cached, ${formatBytes(bytes)}` : 'cache empty';
  } catch (e) {
    ui.cacheInfo.textContent = `cache unavailable: ${errorText(e)}`;
  }
}

// ---- Wiring -------------------------------------------------------------------------------------

/** A focusable drop zone: drop, click, Enter or Space opens the file picker. */
function dropZone(zone: HTMLElement, input: HTMLInputElement, onFile: (f: File) => void): void {
  const open = () => input.click();
  zone.addEventListener('click', open);
  zone.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); open(); }
  });
  zone.addEventListener('dragover', (ev) => { ev.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    ev.stopPropagation();
    zone.classList.remove('over');
    const f = ev.dataTransfer?.files[0];
    if (f) onFile(f);
  });
  input.addEventListener('change', () => {
    const f = input.files?.[0];
    if (f) onFile(f);
    input.value = '';
  });
}

function isWeightsFile(f: File): boolean {
  return /\.(safetensors|pth|pt|bin|tar)$/i.test(f.name);
}

function wire(): void {
  ui.modelSelect.addEventListener('change', () => {
    clearErrors();
    $<HTMLOptionElement>('file-option').hidden = true;
    onModelSelected();
  });
  ui.weightsUrlLoad.addEventListener('click', () => loadFromUrl());
  ui.weightsUrl.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') loadFromUrl(); });
  ui.weightsRandom.addEventListener('click', () => loadRandom());
  dropZone(ui.weightsDrop, ui.weightsFile, loadFromFile);
  dropZone(ui.imageDrop, ui.imageFile, (f) => void setImageFromFile(f));
  ui.profileRun.addEventListener('click', () => runProfile());
  ui.clearCache.addEventListener('click', () => {
    void clearWeightsCache().then((ok) => {
      ui.cacheInfo.textContent = ok ? 'cache cleared' : 'nothing cached';
    }, (e) => showError('Clearing the cache', e));
  });

  // A file dropped anywhere else on the page goes where its type says.
  document.addEventListener('dragover', (ev) => ev.preventDefault());
  document.addEventListener('drop', (ev) => {
    ev.preventDefault();
    const f = ev.dataTransfer?.files[0];
    if (!f) return;
    if (isImageFile(f)) void setImageFromFile(f);
    else if (isWeightsFile(f)) loadFromFile(f);
    else showError('Dropped file', `${f.name} is neither an image nor a weights file (.safetensors, .pth)`);
  });
  document.addEventListener('paste', (ev) => {
    if ((ev.target as HTMLElement | null)?.closest('input, textarea')) return;
    const item = [...(ev.clipboardData?.items ?? [])].find((i) => i.kind === 'file' && i.type.startsWith('image/'));
    const f = item?.getAsFile();
    if (f) { ev.preventDefault(); void setImageFromFile(f); }
  });

  const webcam = new Webcam();
  void Webcam.hasCamera().then((yes) => { ui.webcamBlock.hidden = !yes; });
  ui.webcamToggle.addEventListener('click', () => {
    void (async () => {
      try {
        if (webcam.running) {
          webcam.stop(ui.webcamVideo);
          ui.webcamVideo.classList.remove('live');
        } else {
          await webcam.start(ui.webcamVideo);
          ui.webcamVideo.classList.add('live');
        }
      } catch (e) { showError('Webcam', e); }
      ui.webcamToggle.textContent = webcam.running ? 'Stop webcam' : 'Start webcam';
      ui.webcamToggle.setAttribute('aria-pressed', String(webcam.running));
      ui.webcamSnap.disabled = !webcam.running;
    })();
  });
  ui.webcamSnap.addEventListener('click', () => {
    void (async () => {
      try { await setImage(`webcam ${new Date().toLocaleTimeString()}`, await webcam.grab(ui.webcamVideo)); } catch (e) { showError('Webcam', e); }
    })();
  });
}

const teacher = new Teacher({
  model: () => state.model,
  modelName: () => state.modelName,
  currentImage: () => state.image,
  serial,
  reclassify: () => void serial(classifyNow),
  showError,
});

const benchmark = new BenchmarkPanel({ context: () => state.ctx, serial, showError });

async function main(): Promise<void> {
  setModelState('none');
  fillModelPicker();
  wire();
  setGallery('fashion');
  void refreshCacheInfo();
  if (!(await initGpu())) {
    setModelState('error');
    showProgress('WebGPU unavailable: nothing to load');
    for (const el of document.querySelectorAll<HTMLButtonElement | HTMLSelectElement>('#model-panel button, #model-panel select')) {
      if (el.id !== 'clear-cache') el.disabled = true;
    }
    return;
  }
  benchmark.enable(true);
  await loadEmbedded();
  // Show a result at once: the first sample.
  const first = FASHION_SAMPLES[0];
  if (first && !state.image && state.model) {
    try { await setImage(first.name, await fetchImage(first.url)); } catch (e) { showError(`Sample ${first.name}`, e); }
  }
}

void main().catch((e) => showError('Starting the demo', e));
