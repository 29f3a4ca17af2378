// Where the published ImageNet checkpoints of each architecture live (PyTorch .pth files, converted
// in the page). torchvision's are the IMAGENET1K_V1 weights of torchvision.models; Cadene's are
// those of pretrainedmodels (github.com/Cadene/pretrained-models.pytorch).
// Whether a browser may fetch them depends on the host's CORS headers; when it may not, the page
// says so and the user can download the file and drop it instead.

export const KNOWN_WEIGHTS: Record<string, string> = {
  resnet18: 'https://download.pytorch.org/models/resnet18-f37072fd.pth',
  resnet34: 'https://download.pytorch.org/models/resnet34-b627a593.pth',
  resnet50: 'https://download.pytorch.org/models/resnet50-0676ba61.pth',
  resnet101: 'https://download.pytorch.org/models/resnet101-63fe2227.pth',
  resnet152: 'https://download.pytorch.org/models/resnet152-394f9c45.pth',
  resnext50_32x4d: 'https://download.pytorch.org/models/resnext50_32x4d-7cdf4587.pth',
  resnext101_32x8d: 'https://download.pytorch.org/models/resnext101_32x8d-8ba56ff5.pth',
  resnext101_32x4d: 'http://data.lip6.fr/cadene/pretrainedmodels/resnext101_32x4d-29e315fa.pth',
  resnext101_64x4d: 'http://data.lip6.fr/cadene/pretrainedmodels/resnext101_64x4d-e77a0586.pth',
  fbresnet152: 'http://data.lip6.fr/cadene/pretrainedmodels/fbresnet152-2e20f6b4.pth',
};
