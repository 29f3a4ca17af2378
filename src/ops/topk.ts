// TS twin of shaders/topk.wgsl: the k largest values per row of (N, K) and their indices.
//
// Output layout (N, 2, k) of 32-bit words: per row k values (f32) then k indices (u32), sorted by
// value descending, equal values by lower index. Read back the N * 2k words (readTensor or
// readBuffer) and decode them with decodeTopK.

import type { GpuContext } from '../gpu/device.js';
import { checkBindingSize, type GpuTensor } from '../gpu/buffers.js';
import { getPipeline } from '../gpu/shaders.js';
import { pipelineDispatch, type Dispatch } from '../gpu/dispatch.js';
import { checkInts, checkNoAlias, checkShape, grid1d, shapeText, tensorBinding } from './common.js';

export interface TopKDesc {
  /** Input shape [N, K]. */
  input: readonly number[];
  /** How many entries per row, 1 <= k <= min(K, MAX_TOPK). */
  k: number;
}

export interface TopKEntry {
  index: number;
  value: number;
}

/** Largest k supported: one round (a scan and a reduction) per entry keeps this small. */
export const MAX_TOPK = 32;
/** Invocations per row (WGSL override WG; a power of two for the tree reduction). */
const WG = 64;

/** Decodes the (N, 2, k) words written by TopK: per row, k values (f32) then k indices (u32). */
export function decodeTopK(data: ArrayBuffer | ArrayBufferView, N: number, k: number): TopKEntry[][] {
  const bytes = data instanceof ArrayBuffer ? data : data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  if (bytes.byteLength < N * 2 * k * 4) {
    throw new Error(`decodeTopK: ${bytes.byteLength} bytes, expected N * 2k * 4 = ${N * 2 * k * 4}`);
  }
  const values = new Float32Array(bytes, 0, N * 2 * k);
  const indices = new Uint32Array(bytes, 0, N * 2 * k);
  const rows: TopKEntry[][] = [];
  for (let n = 0; n < N; n++) {
    const row: TopKEntry[] = [];
    for (let j = 0; j < k; j++) row.push({ value: values[n * 2 * k + j], index: indices[n * 2 * k + k + j] });
    rows.push(row);
  }
  return rows;
}

export class TopK {
  /** [N, 2, k]: 32-bit words, values then indices per row. */
  readonly outputShape: readonly number[];

  private constructor(
    private readonly ctx: GpuContext,
    readonly desc: TopKDesc,
    readonly label: string,
    private readonly pipeline: GPUComputePipeline,
  ) {
    this.outputShape = [desc.input[0], 2, desc.k];
  }

  static async create(ctx: GpuContext, desc: TopKDesc, label: string): Promise<TopK> {
    if (desc.input.length !== 2) throw new Error(`${label}: input shape ${shapeText(desc.input)} is not 2D [N, K]`);
    const [N, K] = desc.input;
    checkInts(label, { N, K, k: desc.k });
    if (desc.k > K) throw new Error(`${label}: k = ${desc.k} exceeds the row length K = ${K}`);
    if (desc.k > MAX_TOPK) throw new Error(`${label}: k = ${desc.k} exceeds the supported maximum ${MAX_TOPK}`);
    checkBindingSize(ctx, N * K * 4, `${label} input`);
    const pipeline = await getPipeline(ctx, { shader: 'topk', overrides: { WG } });
    return new TopK(ctx, desc, label, pipeline);
  }

  /** input (N, K) -> output (N, 2, k) words. */
  bind(input: GpuTensor, output: GpuTensor): Dispatch {
    const { ctx, label, pipeline } = this;
    checkShape(label, 'input', input.shape, this.desc.input);
    checkShape(label, 'output', output.shape, this.outputShape);
    checkNoAlias(label, input, output);
    const [N, K] = this.desc.input;
    const [gx, gy] = grid1d(ctx, N, label);
    return pipelineDispatch(ctx, label, pipeline, new Uint32Array([N, K, this.desc.k]), [
      tensorBinding(ctx, label, 'input', input),
      tensorBinding(ctx, label, 'output', output),
    ], [gx, gy]);
  }
}
