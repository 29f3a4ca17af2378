// The control for `npm run bench -- --tuning heuristic,auto`: two models of one architecture loaded
// on one device with the tuning modes given (the same mode twice is the A/A control: how far apart two
// identical models measure), then batch-1 inferences in rounds, the order swapped every other round;
// prints each model's median ms and the median of the per-round ratios (second / first).
//
//   npx tsx bench/tuning-control.ts --adapter llvmpipe --modes heuristic,heuristic --arch resnet50 --rounds 30

import '../src/node/install.js'; // first: the runtime under src/ runs on the Node platform
import { parseArgs } from 'node:util';
import { loadModel } from '../src/classify.js';
import { acquireDevice, type AdapterChoice } from '../src/gpu/device.js';
import type { TuningMode } from '../src/tuning/model-tuning.js';
import { randomWeights } from '../src/weights/random.js';
import { benchConfig } from './model-bench.js';
import { benchInput, median } from './step-timer.js';

const { values } = parseArgs({
  options: {
    adapter: { type: 'string', default: 'default' },
    modes: { type: 'string', default: 'heuristic,auto' },
    arch: { type: 'string', default: 'resnet50' },
    rounds: { type: 'string', default: '30' },
    'tuning-budget': { type: 'string', default: '900000' },
  },
});
const modes = values.modes.split(',') as TuningMode[];
if (modes.length !== 2) throw new Error(`--modes takes two tuning modes, got '${values.modes}'`);
const rounds = Number(values.rounds);
const ctx = await acquireDevice({ adapter: values.adapter as AdapterChoice });
const config = benchConfig(values.arch, 224);
const weights = randomWeights(config);
const models = [];
for (const mode of modes) {
  // No tuning store: 'auto' tunes from scratch, within the budget, before the rounds start.
  const model = await loadModel({ weights, device: ctx, tuning: mode, tuningStore: null, tuningBudgetMs: Number(values['tuning-budget']) });
  await model.ready();
  models.push(model);
}
const input = benchInput(config.inputChannels * 224 * 224);
for (const m of models) await m.run(input); // untimed
const times: number[][] = [[], []];
const ratios: number[] = [];
for (let r = 0; r < rounds; r++) {
  const ms = [0, 0];
  for (const i of r % 2 ? [1, 0] : [0, 1]) {
    const t = performance.now();
    await models[i].run(input);
    ms[i] = performance.now() - t;
    times[i].push(ms[i]);
  }
  ratios.push(ms[1] / ms[0]);
}
console.log(`${values.arch} on ${values.adapter}, ${rounds} rounds: ${modes[0]} ${median(times[0]).toFixed(1)} ms, ` +
  `${modes[1]} ${median(times[1]).toFixed(1)} ms, ${modes[1]} / ${modes[0]} ${median(ratios).toFixed(3)} ` +
  `(range ${Math.min(...ratios).toFixed(3)} to ${Math.max(...ratios).toFixed(3)})`);
for (const m of models) m.dispose();
