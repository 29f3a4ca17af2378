// One device per test file, on the adapter named by WEBGPU_ADAPTER (default: SwiftShader here).

import { acquireDevice, describeDevice, type GpuContext } from '../../src/gpu/device.js';

let ctx: Promise<GpuContext> | undefined;

export function testContext(): Promise<GpuContext> {
  ctx ??= acquireDevice().then((c) => {
    if (process.env.VERBOSE) console.log(describeDevice(c));
    return c;
  });
  return ctx;
}
