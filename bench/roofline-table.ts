// Prints the roofline tables of bench/RESULTS.md ("A traffic / roofline model on paper"): per conv layer
// of ResNet-50 and ResNeXt-101 32x4d at batch 1 (layers of the same shape merged), FLOPs and bytes for
// the hardware pick before the kernel families (register 4x8), each candidate family, and the tiled
// rule table's picks for Apple and NVIDIA adapters (src/ops/conv2d-hardware.ts), and roofline times on
// the assumed devices of src/ops/conv2d-traffic.ts. Estimates; no GPU needed.
// Regenerate: npx tsx bench/roofline-table.ts [--arch a,b] [--batch N] [--text]   (markdown by default)

import { getArchitecture } from '../src/models/config.js';
import { ROOFLINE_DEVICES, rooflineFamilies } from '../src/ops/conv2d-traffic.js';
import type { Conv2dDesc } from '../src/ops/conv2d-geometry.js';
import {
  convLayers, hardwarePick, layerTraffic, markdownTable, mergeSameShape, rooflineCells, rulePick, trafficCells, trafficFamilyOf,
} from './roofline.js';
import { table } from './report.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const archs = opt('--arch', 'resnet50,resnext101_32x4d').split(',');
const N = Number(opt('--batch', '1'));
const format = args.includes('--text') ? table : markdownTable;

for (const arch of archs) {
  const layers = convLayers(getArchitecture(arch), N);
  // The rule table's tiles with subgroups of 32 (Apple's SIMD groups, NVIDIA's warps; the tiled family uses none).
  const RULES = ['apple', 'nvidia'];
  const names = [...rooflineFamilies(hardwarePick(layers[0].desc)).map((f) => f.name), ...RULES.map((v) => `rules ${v}`)];
  const familiesOf = (d: Conv2dDesc) => [...rooflineFamilies(hardwarePick(d)).map((f) => f.family),
    ...RULES.map((v) => trafficFamilyOf(rulePick(v, d), 32))];
  const rows = mergeSameShape(layerTraffic(layers, familiesOf));
  console.log(`\n${arch}, batch ${N}: FLOPs and bytes asked of global memory per conv layer (estimates; min MB: every tensor once)\n`);
  const t = trafficCells(rows, names);
  console.log(format(t.header, t.cells));
  for (const device of ROOFLINE_DEVICES) {
    console.log(`\n${arch}, batch ${N}, roofline on an assumed ${device.name}: ${device.peakFlops / 1e12} TFLOP/s, ` +
      `${device.bandwidth / 1e9} GB/s (estimates; m: memory-bound; floor: compulsory bytes)\n`);
    const r = rooflineCells(rows, names, device);
    console.log(format(r.header, r.cells));
  }
}
