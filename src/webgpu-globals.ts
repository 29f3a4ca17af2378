// The WebGPU interfaces that the package's declarations name, declared empty so that they merge
// with the full ones when a project has them (@webgpu/types, or a DOM library that defines them)
// and still resolve when it has not: a Node project without the DOM library cannot load
// @webgpu/types, which needs it. src/index.ts re-exports this module (types only), so the entries'
// declarations load it.
// Add an interface here when an exported type starts naming another one.

declare global {
  interface GPUAdapter {}
  interface GPUAdapterInfo {}
  interface GPUBindGroup {}
  interface GPUBuffer {}
  interface GPUBufferBinding {}
  interface GPUComputePassEncoder {}
  interface GPUComputePassTimestampWrites {}
  interface GPUComputePipeline {}
  interface GPUDevice {}
  interface GPUDeviceLostInfo {}
  interface GPUError {}
  interface GPUQuerySet {}
  interface GPUTexture {}
}

export {};
