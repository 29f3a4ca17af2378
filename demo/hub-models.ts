// The Hugging Face Hub models the demo offers next to the embedded one: timm checkpoints whose
// architecture the runtime builds, loaded by id (the library fetches config.json and
// model.safetensors, converts them as they download and keeps the result in the Cache API, so a
// second visit, or one offline, reads them from there). Top-1: ImageNet-1k validation accuracy from
// timm's results/results-imagenet.csv (huggingface/pytorch-image-models), at the model's
// input_size with its crop_pct, and at its test_input_size where it has one.

export interface HubModel {
  id: string;
  /** Parameters in millions (results-imagenet.csv param_count). */
  paramsM: number;
  /** Top-1 at the default input size, and at the test size (with that size). */
  top1: number;
  test?: { size: number; top1: number };
  inputSize: number;
}

export const HUB_MODELS: readonly HubModel[] = [
  { id: 'hf-hub:timm/resnet18.a1_in1k', paramsM: 11.69, inputSize: 224, top1: 71.504, test: { size: 288, top1: 73.164 } },
  { id: 'hf-hub:timm/resnet34.a1_in1k', paramsM: 21.80, inputSize: 224, top1: 76.420, test: { size: 288, top1: 77.930 } },
  { id: 'hf-hub:timm/resnet50.a1_in1k', paramsM: 25.56, inputSize: 224, top1: 80.382, test: { size: 288, top1: 81.240 } },
  { id: 'hf-hub:timm/resnet50.tv2_in1k', paramsM: 25.56, inputSize: 176, top1: 79.434, test: { size: 224, top1: 80.846 } },
  { id: 'hf-hub:timm/resnext50_32x4d.a1h_in1k', paramsM: 25.03, inputSize: 224, top1: 81.140, test: { size: 288, top1: 82.016 } },
  { id: 'hf-hub:timm/resnet101.a1h_in1k', paramsM: 44.55, inputSize: 224, top1: 81.950, test: { size: 288, top1: 82.796 } },
  { id: 'hf-hub:timm/resnet50d.ra2_in1k', paramsM: 25.58, inputSize: 224, top1: 80.546, test: { size: 288, top1: 81.354 } },
  { id: 'hf-hub:timm/seresnext50_32x4d.racm_in1k', paramsM: 27.56, inputSize: 224, top1: 81.268, test: { size: 288, top1: 82.186 } },
  { id: 'hf-hub:timm/ecaresnet50d.miil_in1k', paramsM: 25.58, inputSize: 224, top1: 80.634, test: { size: 288, top1: 81.648 } },
  { id: 'hf-hub:timm/resnetaa50d.sw_in12k_ft_in1k', paramsM: 25.58, inputSize: 224, top1: 81.782, test: { size: 288, top1: 82.656 } },
];

/** The option text: name, download size (f32: 4 bytes a parameter), top-1. */
export function hubModelLabel(m: HubModel): string {
  const mb = Math.round(m.paramsM * 4);
  return `${m.id.slice('hf-hub:timm/'.length)} — ${mb} MB, top-1 ${m.top1.toFixed(1)}%` +
    (m.test ? ` (${m.test.top1.toFixed(1)}% at ${m.test.size})` : '');
}
