// A module worker that makes .safetensors bytes off the main thread, so the page stays responsive:
//   { kind: 'convert', bytes, arch?, name }  a PyTorch checkpoint converted by the package's convertCheckpoint
//   { kind: 'random', arch, seed }           random well-scaled weights (src/weights/random.ts)
// Replies: { kind: 'progress', done, total } messages, then { kind: 'done', bytes, notes, arch } or
// { kind: 'error', name, message }. Result bytes are transferred, not copied.

import { convertCheckpoint, getArchitecture } from '../src/index.js';
import { randomWeights } from '../src/weights/random.js';

export type WorkerJob =
  | { kind: 'convert'; bytes: Uint8Array; arch?: string; name: string }
  | { kind: 'random'; arch: string; seed: number };

export type WorkerReply =
  | { kind: 'progress'; done: number; total: number }
  | { kind: 'done'; bytes: Uint8Array; notes: string[]; arch: string }
  | { kind: 'error'; name: string; message: string };

const post = (m: WorkerReply, transfer: Transferable[] = []) =>
  (self as unknown as { postMessage(m: WorkerReply, t: Transferable[]): void }).postMessage(m, transfer);

function run(job: WorkerJob): WorkerReply & { kind: 'done' } {
  if (job.kind === 'random') {
    const bytes = randomWeights(getArchitecture(job.arch), { seed: job.seed });
    return { kind: 'done', bytes, notes: [`random weights, seed ${job.seed}`], arch: job.arch };
  }
  let last = 0;
  const r = convertCheckpoint(job.bytes, {
    arch: job.arch,
    source: `converted in the browser from ${job.name}`,
    onProgress: (p) => {
      const now = performance.now();
      if (now - last > 50 || p.done === p.total) { last = now; post({ kind: 'progress', done: p.done, total: p.total }); }
    },
  });
  return { kind: 'done', bytes: r.bytes, notes: [`${r.container} checkpoint, ${r.layout} layout`, ...r.notes], arch: r.arch };
}

self.addEventListener('message', (ev: MessageEvent<WorkerJob>) => {
  try {
    const reply = run(ev.data);
    post(reply, [reply.bytes.buffer as ArrayBuffer]);
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    post({ kind: 'error', name: err.name, message: err.message });
  }
});
