// Checkpoint format detection and in-page conversion of PyTorch checkpoints (.pth) to .safetensors
// with the project's own converter (weights-tools), loaded only when a .pth actually arrives.

/** True when `bytes` start like a .safetensors file: u64 LE header length, then a JSON object. */
export function isSafetensors(bytes: Uint8Array): boolean {
  if (bytes.byteLength < 10) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n >= 2n && n <= BigInt(bytes.byteLength - 8) && bytes[8] === 0x7b; // '{'
}

export interface ConvertOptions {
  /** Architecture the user picked, for checkpoints whose layout does not say. */
  arch?: string;
  /** File name or URL, for messages. */
  name: string;
}

/** Converts a PyTorch checkpoint (zip or legacy torch.save format) to .safetensors bytes. */
export async function convertToSafetensors(bytes: Uint8Array, options: ConvertOptions): Promise<Uint8Array> {
  void bytes;
  throw new Error(`${options.name}: converting .pth files in the page is not wired yet`);
}
