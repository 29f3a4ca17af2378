// Checkpoint format detection and in-page conversion of PyTorch checkpoints (.pth) to .safetensors
// with the project's own converter (weights-tools/convert.ts), loaded only when a .pth arrives.

/** True when `bytes` start like a .safetensors file: u64 LE header length, then a JSON object. */
export function isSafetensors(bytes: Uint8Array): boolean {
  if (bytes.byteLength < 10) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n >= 2n && n <= BigInt(bytes.byteLength - 8) && bytes[8] === 0x7b; // '{'
}

export interface ConvertOptions {
  /** Architecture the user picked; without it the converter infers it from the tensor shapes. */
  arch?: string;
  /** File name or URL, for messages. */
  name: string;
  onProgress?: (done: number, total: number) => void;
}

export interface Converted {
  bytes: Uint8Array;
  /** What the converter found worth saying (layout, dropped entries). */
  notes: string[];
  arch: string;
}

/**
 * Converts a PyTorch checkpoint (zip or legacy torch.save format, Cadene or torchvision names) to
 * .safetensors bytes. Runs on the main thread: a 300 MB checkpoint blocks the page for a few seconds.
 */
export async function convertToSafetensors(bytes: Uint8Array, options: ConvertOptions): Promise<Converted> {
  const { convertCheckpoint } = await import('../weights-tools/convert.js');
  const r = convertCheckpoint(bytes, {
    arch: options.arch,
    source: `converted in the browser from ${options.name}`,
    onProgress: (p) => options.onProgress?.(p.done, p.total),
  });
  return { bytes: r.bytes, notes: [`${r.container} checkpoint, ${r.layout} layout`, ...r.notes], arch: r.arch };
}
