// "Teach it your own classes": examples (image files, or the current image: a sample, a file, a
// webcam frame) collected into named classes, embedded on the GPU (model.embed), a head trained on
// the embeddings in the page (trainHead), then classify() uses it (model.useHead). Everything stays
// in the browser: the examples in memory, the trained head (saveHead) in the Cache API under the
// model's name, so a reload of the same model gets it back. Nothing is uploaded.
//
// State the browser tests read (test/browser/demo.test.ts):
//   #teach-panel[data-head]            'none' | 'trained' | 'restored'
//   #teach-classes li[data-class]      with [data-examples] = the examples collected

import { loadHead, saveHead, trainHead, type Head, type Model } from '../src/index.js';
import { decodeImage } from './images.js';

/** Cache API cache holding one trained head per model name. */
const HEADS_CACHE = 'webgpu-resnext-demo-heads';

/** What the teacher needs from the page. */
export interface TeachHost {
  model(): Model | undefined;
  modelName(): string;
  /** The image shown now (a sample, file or webcam frame). */
  currentImage(): { name: string; bitmap: ImageBitmap } | undefined;
  /** Runs GPU work after the page's other GPU work. */
  serial<T>(job: () => Promise<T>): Promise<T>;
  /** Classifies the current image again (after the head changed). */
  reclassify(): void;
  showError(context: string, e: unknown): void;
}

interface TaughtClass {
  name: string;
  /** Embeddings of the examples, each model.info.embeddingDim floats. */
  examples: Float32Array[];
  item: HTMLLIElement;
}

function el<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`demo page is missing #${id}`);
  return e as T;
}

function headKey(modelName: string): string {
  return new URL(`./transfer-heads/${encodeURIComponent(modelName)}.safetensors`, location.href).href;
}

export class Teacher {
  private classes: TaughtClass[] = [];
  private head: Head | null = null;
  private readonly panel = el('teach-panel');
  private readonly list = el<HTMLUListElement>('teach-classes');
  private readonly nameInput = el<HTMLInputElement>('teach-class-name');
  private readonly trainButton = el<HTMLButtonElement>('teach-train');
  private readonly useBox = el<HTMLInputElement>('teach-use');
  private readonly status = el('teach-status');

  constructor(private readonly host: TeachHost) {
    el<HTMLFormElement>('teach-add-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.addClass(this.nameInput.value.trim());
    });
    this.trainButton.addEventListener('click', () => void this.train());
    this.useBox.addEventListener('change', () => this.apply());
    el<HTMLButtonElement>('teach-forget').addEventListener('click', () => void this.forget());
    this.setHead(null, 'none');
  }

  /** A new model: examples of the old one no longer fit; its saved head, if any, comes back. */
  async modelChanged(): Promise<void> {
    for (const c of this.classes) c.item.remove();
    this.classes = [];
    this.setHead(null, 'none');
    const model = this.host.model();
    if (!model) return;
    try {
      const bytes = await readCached(headKey(this.host.modelName()));
      if (!bytes || this.host.model() !== model) return;
      this.setHead(loadHead(bytes, { dim: model.info.embeddingDim }), 'restored');
      this.status.textContent = `Restored your head from this browser: ${this.head!.classNames.join(', ')}.`;
    } catch (e) {
      this.host.showError('Restoring your trained classes', e);
    }
  }

  private addClass(name: string): void {
    if (!name) { this.host.showError('New class', 'give the class a name'); return; }
    if (this.classes.some((c) => c.name === name)) { this.host.showError('New class', `there is already a class '${name}'`); return; }
    const index = this.classes.length;
    const item = document.createElement('li');
    item.dataset.class = name;
    item.dataset.examples = '0';
    const label = document.createElement('span');
    label.className = 'teach-class-label';
    const current = document.createElement('button');
    current.type = 'button';
    current.textContent = 'Add the current image';
    const files = document.createElement('input');
    files.type = 'file';
    files.accept = 'image/*';
    files.multiple = true;
    files.id = `teach-files-${index}`;
    files.setAttribute('aria-label', `Add image files to ${name}`);
    item.append(label, current, files);
    const c: TaughtClass = { name, examples: [], item };
    this.classes.push(c);
    this.list.append(item);
    this.nameInput.value = '';
    this.updateClass(c);
    current.addEventListener('click', () => {
      const image = this.host.currentImage();
      if (!image) { this.host.showError(`Adding to ${name}`, 'pick an image first (a sample, a file or a webcam frame)'); return; }
      void this.addExamples(c, [image.bitmap]);
    });
    files.addEventListener('change', () => {
      const list = [...(files.files ?? [])];
      files.value = '';
      void (async () => {
        try {
          const bitmaps = await Promise.all(list.map((f) => decodeImage(f, f.name)));
          await this.addExamples(c, bitmaps);
          for (const b of bitmaps) b.close();
        } catch (e) { this.host.showError(`Adding files to ${name}`, e); }
      })();
    });
  }

  /** Embeds `images` on the GPU (one batch) and keeps the embeddings as examples of `c`. */
  private async addExamples(c: TaughtClass, images: ImageBitmap[]): Promise<void> {
    if (images.length === 0) return;
    await this.host.serial(async () => {
      const model = this.host.model();
      if (!model) throw new Error('load a model first');
      const D = model.info.embeddingDim;
      const x = await model.embed(images);
      for (let i = 0; i < images.length; i++) c.examples.push(x.slice(i * D, (i + 1) * D));
    }).catch((e) => this.host.showError(`Adding to ${c.name}`, e));
    this.updateClass(c);
  }

  private updateClass(c: TaughtClass): void {
    c.item.dataset.examples = String(c.examples.length);
    c.item.querySelector('.teach-class-label')!.textContent = `${c.name}: ${c.examples.length} example${c.examples.length === 1 ? '' : 's'}`;
    this.trainButton.disabled = this.classes.filter((k) => k.examples.length > 0).length < 2;
  }

  /** Trains a softmax head on the classes that have examples, uses it and keeps it in the Cache API. */
  private async train(): Promise<void> {
    const model = this.host.model();
    if (!model) return;
    const classes = this.classes.filter((c) => c.examples.length > 0);
    const D = model.info.embeddingDim;
    const examples = classes.flatMap((c) => c.examples);
    const x = new Float32Array(examples.length * D);
    examples.forEach((e, i) => x.set(e, i * D));
    const labels = classes.flatMap((c, k) => c.examples.map(() => k));
    try {
      const t0 = performance.now();
      const head = trainHead(x, labels, D, { classNames: classes.map((c) => c.name) });
      this.setHead(head, 'trained');
      this.status.textContent = `Trained on ${examples.length} examples of ${classes.length} classes in ` +
        `${(performance.now() - t0).toFixed(0)} ms; kept in this browser.`;
      await writeCached(headKey(this.host.modelName()), saveHead(head));
    } catch (e) {
      this.host.showError('Training', e);
    }
  }

  private async forget(): Promise<void> {
    this.setHead(null, 'none');
    this.status.textContent = 'Forgot the trained head.';
    try { await deleteCached(headKey(this.host.modelName())); } catch (e) { this.host.showError('Forgetting the head', e); }
  }

  private setHead(head: Head | null, how: 'none' | 'trained' | 'restored'): void {
    this.head = head;
    this.panel.dataset.head = how;
    this.useBox.disabled = !head;
    this.useBox.checked = !!head;
    if (!head) this.status.textContent = 'Add two or more classes with examples, then train.';
    this.apply();
  }

  /** Classify with the head while the box is ticked, else with the network's own classes. */
  private apply(): void {
    const model = this.host.model();
    if (!model) return;
    const want = this.useBox.checked ? this.head : null;
    if (model.head === want) return;
    model.useHead(want);
    this.host.reclassify();
  }
}

async function readCached(key: string): Promise<Uint8Array | undefined> {
  if (typeof caches === 'undefined') return undefined;
  // match() rather than open(): reading must not create the cache (the page's cache counts stay exact).
  const r = await caches.match(key, { cacheName: HEADS_CACHE });
  return r ? new Uint8Array(await r.arrayBuffer()) : undefined;
}

async function writeCached(key: string, bytes: Uint8Array): Promise<void> {
  if (typeof caches === 'undefined') return;
  await (await caches.open(HEADS_CACHE)).put(key, new Response(bytes.slice().buffer as ArrayBuffer, { headers: { 'content-type': 'application/octet-stream' } }));
}

async function deleteCached(key: string): Promise<void> {
  if (typeof caches === 'undefined' || !(await caches.has(HEADS_CACHE))) return;
  await (await caches.open(HEADS_CACHE)).delete(key);
}
