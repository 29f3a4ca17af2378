// A classification head trained on the user's device from a few labelled embeddings (the pooled
// features a backbone gives before its fc layer: 2048 floats for ResNet-50/101/152 and ResNeXt,
// 512 for ResNet-18/34, 256 for the embedded Fashion-MNIST model). Plain loops, no GPU, no
// dependencies, runs in browsers and Node; no randomness, so training is deterministic.
//
//   const head = trainHead(embeddings, labels, 2048, { classNames: ['cat', 'dog'] });  // (N, D), N labels
//   head.predict(embedding, 1, { topK: 2 });   // [[{ index, label, probability }, ...]]
//   const bytes = saveHead(head);  loadHead(bytes, { dim: 2048 });
//
// Every embedding first goes to u = x / |x| (L2-normalised: the scale of pooled ReLU features
// follows image contrast and size, not class), then per kind:
//   'softmax': z = (u - mean) / std with the training set's per-dimension mean and std (std floored
//              at sqrt(STD_FLOOR * mean variance), so dead or near-constant channels are not blown
//              up into noise); logits = W z + b, W and b fitted as a multinomial logistic regression:
//              minimise mean cross-entropy + l2 / 2 * |W|^2 (b not penalised) by full-batch L-BFGS
//              from zero (logistic.ts). L-BFGS takes ~15 iterations on well-separated clusters and
//              ~400 on the Fashion-MNIST fixture (200 x 256, 10 classes; PyTorch's LBFGS as many).
//   'ncm':     nearest class mean by cosine: z = (u - mean) / |u - mean| (centred on the training
//              mean, so cosines of all-positive ReLU features spread out), W's rows = scale * the
//              L2-normalised class means of z, b = 0. No optimisation; one pass over the data.
// In both, probabilities = softmax(W z + b).

import type { Classification } from '../classification.js';
import { parseSafetensors, toFloat32, WeightsFormatError, writeSafetensors, type TensorToWrite } from '../weights/safetensors.js';
import { fitLogisticRegression, softmaxInto } from './logistic.js';

export type HeadKind = 'softmax' | 'ncm';

/** Default L2 penalty of the softmax head (on standardised features, mean loss). */
export const DEFAULT_L2 = 1e-3;
/** std = sqrt(var + STD_FLOOR * mean(var)) per dimension. */
export const STD_FLOOR = 0.01;
/** Default cosine scale of the ncm head: probabilities = softmax(NCM_SCALE * cosines). */
export const NCM_SCALE = 10;

export interface TrainHeadOptions {
  /** Class names; labels are indices into this list. */
  classNames: readonly string[];
  /** 'softmax' (default) or 'ncm'. */
  kind?: HeadKind;
  /** softmax: the L2 penalty (default DEFAULT_L2). */
  l2?: number;
  /** softmax: L-BFGS iteration limit (default 1000). */
  maxIterations?: number;
  /** softmax: stop when max |gradient| < this (default 1e-6). */
  gradientTolerance?: number;
  /** ncm: cosine scale (default NCM_SCALE). */
  scale?: number;
}

/** What training did; softmax only (ncm has no iterations). */
export interface TrainingReport {
  examples: number;
  iterations: number;
  evaluations: number;
  /** Final objective: mean cross-entropy + l2 / 2 * |W|^2. */
  loss: number;
  converged: boolean;
}

export interface PredictOptions {
  /** Classes per embedding, most probable first (default 1, at most the number of classes). */
  topK?: number;
}

export class Head {
  /** Number of classes K. */
  readonly numClasses: number;

  /**
   * @param weight (K, D) row-major
   * @param bias (K)
   * @param mean (D): the training mean of the L2-normalised embeddings
   * @param std (D) for 'softmax', null for 'ncm'
   */
  constructor(
    readonly kind: HeadKind,
    readonly dim: number,
    readonly classNames: readonly string[],
    readonly weight: Float32Array,
    readonly bias: Float32Array,
    readonly mean: Float32Array,
    readonly std: Float32Array | null,
    readonly training?: TrainingReport,
  ) {
    this.numClasses = classNames.length;
    const K = this.numClasses;
    if (weight.length !== K * dim || bias.length !== K || mean.length !== dim || (std !== null && std.length !== dim)) {
      throw new Error(`Head: weight ${weight.length}, bias ${bias.length}, mean ${mean.length}, std ${std?.length} ` +
        `do not fit ${K} classes x ${dim} dims`);
    }
    if ((kind === 'softmax') !== (std !== null)) throw new Error(`Head: a 'softmax' head needs a std, an 'ncm' head takes none`);
  }

  /** Probabilities (n, K) for n embeddings (n, D); n defaults to embeddings.length / dim. */
  probabilities(embeddings: Float32Array, n = embeddings.length / this.dim): Float32Array {
    checkEmbeddings(embeddings, n, this.dim);
    const { dim: D, numClasses: K, weight, bias } = this;
    const out = new Float32Array(n * K);
    const z = new Float64Array(D);
    const logits = new Float64Array(K);
    for (let i = 0; i < n; i++) {
      featuresInto(embeddings.subarray(i * D, (i + 1) * D), this.mean, this.std, z);
      for (let k = 0; k < K; k++) {
        let s = bias[k];
        for (let d = 0, w = k * D; d < D; d++) s += weight[w + d] * z[d];
        logits[k] = s;
      }
      softmaxInto(logits, out.subarray(i * K, (i + 1) * K));
    }
    return out;
  }

  /** The topK most probable classes of each of n embeddings (n, D), most probable first. */
  predict(embeddings: Float32Array, n = embeddings.length / this.dim, options: PredictOptions = {}): Classification[][] {
    const K = this.numClasses;
    const topK = options.topK ?? 1;
    if (!Number.isInteger(topK) || topK < 1 || topK > K) throw new RangeError(`topK ${topK} must be an integer in 1..${K}`);
    const p = this.probabilities(embeddings, n);
    const result: Classification[][] = [];
    for (let i = 0; i < n; i++) {
      const row = p.subarray(i * K, (i + 1) * K);
      const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b);
      result.push(order.slice(0, topK).map((index) => ({ index, label: this.classNames[index], probability: row[index] })));
    }
    return result;
  }
}

function checkEmbeddings(embeddings: Float32Array, n: number, dim: number): void {
  if (!Number.isInteger(n) || n < 0 || embeddings.length !== n * dim) {
    throw new RangeError(`expected ${n} embeddings of ${dim} floats (${n * dim} values), got ${embeddings.length} values`);
  }
}

/** out[offset .. offset + D) = x / |x| (zeros for x = 0). */
function normalizeInto(x: Float32Array, out: Float64Array, offset: number): void {
  let sq = 0;
  for (let d = 0; d < x.length; d++) sq += x[d] * x[d];
  const inv = sq > 0 ? 1 / Math.sqrt(sq) : 0;
  for (let d = 0; d < x.length; d++) out[offset + d] = x[d] * inv;
}

/** u = x / |x|; 'softmax' (std given): z = (u - mean) / std; 'ncm': z = (u - mean) / |u - mean|. */
function featuresInto(x: Float32Array, mean: Float32Array, std: Float32Array | null, z: Float64Array): void {
  const D = x.length;
  normalizeInto(x, z, 0);
  for (let d = 0; d < D; d++) z[d] -= mean[d];
  if (std) {
    for (let d = 0; d < D; d++) z[d] /= std[d];
  } else {
    let c = 0;
    for (let d = 0; d < D; d++) c += z[d] * z[d];
    const invC = c > 0 ? 1 / Math.sqrt(c) : 0;
    for (let d = 0; d < D; d++) z[d] *= invC;
  }
}

/**
 * Fits a head on N labelled embeddings: `embeddings` (N, D) row-major, `labels` N class indices
 * into options.classNames. Every class needs at least one example.
 */
export function trainHead(embeddings: Float32Array, labels: readonly number[] | Int32Array, dim: number,
  options: TrainHeadOptions): Head {
  const kind = options.kind ?? 'softmax';
  const classNames = [...options.classNames];
  const K = classNames.length;
  const N = labels.length;
  const D = dim;
  if (kind !== 'softmax' && kind !== 'ncm') throw new RangeError(`kind '${String(kind)}' is not 'softmax' or 'ncm'`);
  if (!Number.isInteger(D) || D < 1) throw new RangeError(`dim ${dim} must be a positive integer`);
  if (K < 2) throw new RangeError(`a head needs at least 2 classes, got ${K}`);
  checkEmbeddings(embeddings, N, D);
  const counts = new Array<number>(K).fill(0);
  for (let i = 0; i < N; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= K) throw new RangeError(`label ${y} of example ${i} is not a class index in 0..${K - 1}`);
    counts[y]++;
  }
  const empty = counts.findIndex((c) => c === 0);
  if (empty >= 0) throw new RangeError(`class ${empty} '${classNames[empty]}' has no examples`);
  for (let i = 0; i < N * D; i++) {
    if (!Number.isFinite(embeddings[i])) throw new RangeError(`embedding ${Math.floor(i / D)} has a non-finite value at ${i % D}`);
  }

  // u = L2-normalised rows; mean (and for softmax std) over the training set.
  const u = new Float64Array(N * D);
  for (let i = 0; i < N; i++) normalizeInto(embeddings.subarray(i * D, (i + 1) * D), u, i * D);
  const mean64 = new Float64Array(D);
  for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) mean64[d] += u[i * D + d];
  for (let d = 0; d < D; d++) mean64[d] /= N;
  const mean = Float32Array.from(mean64);

  if (kind === 'ncm') return trainNcm(embeddings, labels, D, classNames, mean, options.scale ?? NCM_SCALE);

  const variance = new Float64Array(D);
  for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) variance[d] += (u[i * D + d] - mean[d]) ** 2;
  let meanVariance = 0;
  for (let d = 0; d < D; d++) meanVariance += (variance[d] /= N) / D;
  const std = Float32Array.from(variance, (v) => Math.sqrt(v + STD_FLOOR * meanVariance) || 1);

  const z = u; // standardised in place: (N, D)
  for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) z[i * D + d] = (z[i * D + d] - mean[d]) / std[d];
  const l2 = options.l2 ?? DEFAULT_L2;
  if (!(l2 >= 0)) throw new RangeError(`l2 ${l2} must be >= 0`);
  const fit = fitLogisticRegression(z, labels, N, D, K,
    { l2, maxIterations: options.maxIterations ?? 1000, gradientTolerance: options.gradientTolerance ?? 1e-6 });
  const report = { examples: N, iterations: fit.iterations, evaluations: fit.evaluations, loss: fit.loss, converged: fit.converged };
  return new Head('softmax', D, classNames, Float32Array.from(fit.weight), Float32Array.from(fit.bias), mean, std, report);
}

function trainNcm(embeddings: Float32Array, labels: readonly number[] | Int32Array, D: number, classNames: string[],
  mean: Float32Array, scale: number): Head {
  const K = classNames.length;
  const sums = new Float64Array(K * D);
  const z = new Float64Array(D);
  for (let i = 0; i < labels.length; i++) {
    featuresInto(embeddings.subarray(i * D, (i + 1) * D), mean, null, z);
    for (let d = 0, o = labels[i] * D; d < D; d++) sums[o + d] += z[d];
  }
  const weight = new Float32Array(K * D);
  for (let k = 0; k < K; k++) {
    let sq = 0;
    for (let d = 0; d < D; d++) sq += sums[k * D + d] ** 2;
    const f = sq > 0 ? scale / Math.sqrt(sq) : 0;
    for (let d = 0; d < D; d++) weight[k * D + d] = sums[k * D + d] * f;
  }
  return new Head('ncm', D, classNames, weight, new Float32Array(K), mean, null);
}

// ---- File format ---------------------------------------------------------------------------------
//
// A .safetensors file (F32) with tensors head.weight (K, D), head.bias (K), features.mean (D) and,
// for 'softmax', features.std (D); metadata: format 'transfer-head', head_format_version, kind,
// dim, class_names (JSON array), and for softmax the training report (JSON).

export const HEAD_FORMAT = 'transfer-head';
export const HEAD_FORMAT_VERSION = '1';

/** The head as .safetensors bytes. */
export function saveHead(head: Head): Uint8Array {
  const { dim: D, numClasses: K } = head;
  const tensors: TensorToWrite[] = [
    { name: 'head.weight', shape: [K, D], data: head.weight },
    { name: 'head.bias', shape: [K], data: head.bias },
    { name: 'features.mean', shape: [D], data: head.mean },
  ];
  if (head.std) tensors.push({ name: 'features.std', shape: [D], data: head.std });
  const metadata: Record<string, string> = {
    format: HEAD_FORMAT,
    head_format_version: HEAD_FORMAT_VERSION,
    kind: head.kind,
    dim: String(D),
    class_names: JSON.stringify(head.classNames),
  };
  if (head.training) metadata.training = JSON.stringify(head.training);
  return writeSafetensors(tensors, metadata);
}

export interface LoadHeadOptions {
  /** The embedding width of the backbone the head will run on; a head of another width is refused. */
  dim?: number;
}

/** Reads a head written by saveHead; throws WeightsFormatError naming what is wrong. */
export function loadHead(bytes: Uint8Array, options: LoadHeadOptions = {}): Head {
  const file = parseSafetensors(bytes);
  const meta = file.metadata;
  if (meta.format !== HEAD_FORMAT) {
    throw new WeightsFormatError(`not a transfer head: metadata 'format' is ${meta.format === undefined ? 'missing' : `'${meta.format}'`}` +
      ` (expected '${HEAD_FORMAT}'${meta.arch !== undefined ? `; this looks like a '${meta.arch}' model checkpoint` : ''})`);
  }
  if (meta.head_format_version !== HEAD_FORMAT_VERSION) {
    throw new WeightsFormatError(`transfer head format version ${meta.head_format_version} is not supported (this runtime reads version ${HEAD_FORMAT_VERSION})`);
  }
  const kind = meta.kind;
  if (kind !== 'softmax' && kind !== 'ncm') throw new WeightsFormatError(`transfer head: kind '${kind}' is not 'softmax' or 'ncm'`);
  const D = Number(meta.dim);
  if (!Number.isInteger(D) || D < 1) throw new WeightsFormatError(`transfer head: metadata 'dim' ${meta.dim} is not a positive integer`);
  if (options.dim !== undefined && options.dim !== D) {
    throw new WeightsFormatError(`transfer head takes ${D}-float embeddings, but this model's embeddings have ${options.dim} floats`);
  }
  let classNames: unknown;
  try { classNames = JSON.parse(meta.class_names ?? ''); } catch { classNames = undefined; }
  if (!Array.isArray(classNames) || classNames.length < 2 || !classNames.every((c) => typeof c === 'string')) {
    throw new WeightsFormatError(`transfer head: metadata 'class_names' is not a JSON array of at least 2 strings: ${String(meta.class_names).slice(0, 80)}`);
  }
  const K = classNames.length;
  const expected: [string, number[]][] = [['head.weight', [K, D]], ['head.bias', [K]], ['features.mean', [D]]];
  if (kind === 'softmax') expected.push(['features.std', [D]]);
  const names = new Set(expected.map(([name]) => name));
  const extra = [...file.tensors.keys()].filter((name) => !names.has(name));
  if (extra.length) throw new WeightsFormatError(`transfer head: unexpected tensor(s) ${extra.join(', ')}`);
  const values = expected.map(([name, shape]) => {
    const t = file.tensors.get(name);
    if (!t) throw new WeightsFormatError(`transfer head: tensor '${name}' is missing`);
    if (t.shape.join() !== shape.join()) {
      throw new WeightsFormatError(`transfer head: tensor '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}] (${K} classes, dim ${D})`);
    }
    const data = toFloat32(t.dtype, bytes.subarray(file.dataOffset + t.begin, file.dataOffset + t.end));
    if (!data.every(Number.isFinite)) throw new WeightsFormatError(`transfer head: tensor '${name}' has non-finite values`);
    return data;
  });
  let training: TrainingReport | undefined;
  if (meta.training !== undefined) {
    try { training = JSON.parse(meta.training) as TrainingReport; } catch {
      throw new WeightsFormatError(`transfer head: metadata 'training' is not valid JSON: ${meta.training.slice(0, 80)}`);
    }
  }
  return new Head(kind, D, classNames as string[], values[0], values[1], values[2], values[3] ?? null, training);
}
