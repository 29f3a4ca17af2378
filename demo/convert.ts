// Checkpoint format detection, and the jobs that make .safetensors bytes in a worker
// (weights-worker.ts): converting a PyTorch checkpoint (.pth) with the project's own converter
// (convertCheckpoint, from the package), and generating random weights for an architecture.

import type { WorkerJob, WorkerReply } from './weights-worker.js';

/** True when `bytes` start like a .safetensors file: u64 LE header length, then a JSON object. */
export function isSafetensors(bytes: Uint8Array): boolean {
  if (bytes.byteLength < 10) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n >= 2n && n <= BigInt(bytes.byteLength - 8) && bytes[8] === 0x7b; // '{'
}

export interface Made {
  bytes: Uint8Array;
  /** What the job found worth saying (checkpoint layout, dropped entries, seed). */
  notes: string[];
  arch: string;
}

/** An Error carrying the worker's error name (CheckpointFormatError, ConversionError, ...). */
class WorkerJobError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

function runJob(job: WorkerJob, onProgress?: (done: number, total: number) => void): Promise<Made> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./weights-worker.ts', import.meta.url), { type: 'module', name: `weights ${job.kind}` });
    const finish = () => worker.terminate();
    worker.addEventListener('message', (ev: MessageEvent<WorkerReply>) => {
      const m = ev.data;
      if (m.kind === 'progress') { onProgress?.(m.done, m.total); return; }
      finish();
      if (m.kind === 'done') resolve({ bytes: m.bytes, notes: m.notes, arch: m.arch });
      else reject(new WorkerJobError(m.name, m.message));
    });
    worker.addEventListener('error', (ev) => {
      finish();
      reject(new Error(`the weights worker failed: ${ev.message || 'could not start it'}`));
    });
    const transfer = job.kind === 'convert' ? [job.bytes.buffer as ArrayBuffer] : [];
    worker.postMessage(job, transfer);
  });
}

/**
 * Converts a PyTorch checkpoint (zip or legacy torch.save format, Cadene or torchvision names) to
 * .safetensors bytes. `bytes` is transferred to the worker: do not use it afterwards.
 */
export function convertToSafetensors(bytes: Uint8Array, options: { arch?: string; name: string },
  onProgress?: (done: number, total: number) => void): Promise<Made> {
  return runJob({ kind: 'convert', bytes, arch: options.arch, name: options.name }, onProgress);
}

/** Random well-scaled weights for a named architecture (see src/weights/random.ts). */
export function generateRandomWeights(arch: string, seed = 1): Promise<Made> {
  return runJob({ kind: 'random', arch, seed });
}
