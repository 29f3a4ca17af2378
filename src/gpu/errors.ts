// GPU failures as typed errors.
//
// WebGPU reports most failures asynchronously and out of band: a createBuffer that cannot be
// allocated, or a call the device refuses, returns an object as usual (an invalid one) and the
// error goes to the innermost error scope, or, with none, to the device's 'uncapturederror' event;
// Dawn's Node binding prints an uncaptured error on stdout unless a listener calls preventDefault().
// Left alone, an inference whose buffers were never allocated reads back zeros. So:
//   - gpuScope() runs a synchronous stretch of GPU calls (allocations, uploads, a submit) inside an
//     'out-of-memory' and a 'validation' scope and rejects with GpuOutOfMemoryError or
//     GpuValidationError naming what was being done;
//   - watchDevice() (src/gpu/device.ts) records what no scope caught, and the device's loss, on the
//     context; checkDevice() turns them into a GpuError / DeviceLostError on the next call.
// Scopes are pushed and popped within one synchronous stretch, so that concurrent async work on the
// same device (a background pipeline build) cannot pop another's scope.

/** A GPU operation failed. */
export class GpuError extends Error {
  override name = 'GpuError';
}

/** The device could not allocate memory for a buffer, texture or query set (GPUOutOfMemoryError). */
export class GpuOutOfMemoryError extends GpuError {
  override name = 'GpuOutOfMemoryError';
}

/** The device refused a call (GPUValidationError): a size or limit not checked before the call, or a bug. */
export class GpuValidationError extends GpuError {
  override name = 'GpuValidationError';
}

/** The device was lost (destroyed, driver reset, out of memory at the driver): load the model again. */
export class DeviceLostError extends GpuError {
  override name = 'DeviceLostError';
}

/** The typed error for a GPUError reported while doing `what`. */
export function typedGpuError(error: GPUError, what: string): GpuError {
  const message = `${what}: ${error.message.trim().split('\n')[0]}`;
  const kind = (error as { constructor?: { name?: string } }).constructor?.name ?? '';
  if (kind === 'GPUOutOfMemoryError' || /out of memory|OutOfMemory/i.test(error.message)) {
    return new GpuOutOfMemoryError(`${what}: the GPU is out of memory (${error.message.trim().split('\n')[0]}); ` +
      'use a smaller batch or image, or free other GPU memory');
  }
  if (kind === 'GPUValidationError') return new GpuValidationError(message);
  return new GpuError(message);
}

/**
 * Runs `fn`, a synchronous stretch of GPU calls on `device`, inside an 'out-of-memory' and a
 * 'validation' error scope. Returns its value at once, with a promise that rejects with
 * GpuOutOfMemoryError / GpuValidationError (`what` says what was being done) when a scope caught an
 * error, so that the caller can await it later (after a readback, say). An exception from `fn`
 * itself is rethrown once the scopes are popped.
 */
export function withErrorScopes<T>(device: GPUDevice, what: string, fn: () => T): [T, Promise<void>] {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let value: T;
  try {
    value = fn();
  } catch (e) {
    void device.popErrorScope().catch(() => null);
    void device.popErrorScope().catch(() => null);
    throw e;
  }
  // A lost device reports no errors (its calls are no-ops): checkDevice() tells the loss.
  const validation = device.popErrorScope().catch(() => null);
  const oom = device.popErrorScope().catch(() => null);
  const check = Promise.all([validation, oom]).then(([v, o]) => {
    const error = o ?? v;
    if (error) throw typedGpuError(error, what);
  });
  check.catch(() => {}); // awaited by the caller; never an unhandled rejection meanwhile
  return [value, check];
}

/**
 * withErrorScopes(), awaited: resolves with `fn`'s value, or rejects with the typed error after
 * `cleanup` (to destroy what `fn` made) has run.
 */
export async function gpuScope<T>(device: GPUDevice, what: string, fn: () => T, cleanup?: (value: T) => void): Promise<T> {
  const [value, check] = withErrorScopes(device, what, fn);
  try {
    await check;
  } catch (e) {
    cleanup?.(value);
    throw e;
  }
  return value;
}
