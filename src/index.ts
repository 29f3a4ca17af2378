// The package's browser entry (export conditions "browser" and "default"; src/node.ts adds the Node
// platform): the public API and the pieces a caller may want to name (errors, types, tables).

export { loadModel, type LoadModelOptions, type Model, type ModelInfo, type Classification, type ClassifyOptions, type RunOptions, type Resolution } from './classify.js';
export { HubError } from './hub/errors.js';
export { parseHubId, DEFAULT_HUB_ENDPOINT, type HubRef } from './hub/id.js';
export { labelSet, type LabelSet } from './labels/index.js';
export { acquireDevice, describeDevice, isWebGPUAvailable, isSoftwareAdapter, WebGPUUnavailableError, type WebGPUAvailability, ADAPTER_CHOICES, type AdapterChoice, type GpuContext, type DeviceOptions } from './gpu/device.js';
export { GpuLimitError, type Precision } from './gpu/buffers.js';
export { GpuError, GpuOutOfMemoryError, GpuValidationError } from './gpu/errors.js';
export { NonFiniteInputError, NonFiniteOutputError } from './finite.js';
export { DeviceLostError, TimestampQueryUnsupportedError, type ProfileResult, type StepTiming, type ValidationReport, type StepCheck, type Warmup } from './graph/runner.js';
export { KERNEL_CHOICES, KernelChoiceError, type KernelChoice } from './ops/conv2d.js';
export { ImageInputError, toRgba, type BrowserImageSource, type ImageBlob, type ImageInput, type RawImage, type RgbaImage } from './image/decode.js';
export { ARCHITECTURES, getArchitecture, type ResNetConfig } from './models/config.js';
export { IMAGENET_LABELS } from './models/imagenet-labels.js';
export { DEFAULT_WEIGHTS_URL, DEFAULT_LABELS, DEFAULT_SAMPLES, type DefaultSample } from './models/default-model.js';
export { buildPlan, describePlan, expectedTensors, PlanError, type Plan, type Step, type TensorSpec } from './models/plan.js';
export {
  trainHead, loadHead, saveHead, Head, type HeadKind, type TrainHeadOptions, type TrainingReport, type PredictOptions, type LoadHeadOptions,
} from './transfer/head.js';
export { NonFiniteWeightsError, WeightsMismatchError } from './weights/load.js';
export { WeightsFormatError, decodeMetadata, encodeMetadata, parseSafetensors, writeSafetensors, FORMAT_VERSION, type ModelMetadata } from './weights/safetensors.js';
export { openSafetensors, type WeightsSource, type LoadProgress, type ProgressCallback, type OpenOptions } from './weights/source.js';
export { clearWeightsCache, WEIGHTS_CACHE_NAME } from './weights/cache.js';
export { TUNING_MODES, type TuningMode, type TuningReport, type ShapePick } from './tuning/model-tuning.js';
export { memoryTuningStore, KERNEL_VERSION, TUNING_CACHE_NAME, type TuningStore } from './tuning/store.js';
export { sameTuning } from './tuning/candidates.js';
export { describeTuning } from './ops/conv2d-geometry.js';
export {
  convertCheckpoint, parseModelConfig, type ConvertOptions, type ConvertResult, type ConvertProgress, type ModelConfigFile,
} from './convert/convert.js';
export { CheckpointError, CheckpointFormatError, ConversionError, PickleFormatError, UnsafePickleError } from './convert/errors.js';
export type {} from './webgpu-globals.js';
