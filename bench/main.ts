// `npm run bench [-- options]`: parses the options (`npm run bench -- --help` lists them), checks
// them and runs the benchmark (bench/run.ts). A repository tool, not part of the package: it needs
// the kernel variants in bench/kernels/ and, for --browser, the devDependencies (Vite, Playwright).
//
// Exit status: 0 when the benchmark ran; 2 for a usage error (unknown option, bad value); 1 when
// no WebGPU adapter is found (one line) or on a bug (with its stack).

import '../src/node/install.js'; // first: the runtime under src/ runs on the Node platform
import { Command, CommanderError, Option } from 'commander';
import { ADAPTER_CHOICES, WebGPUUnavailableError } from '../src/gpu/device.js';
import { KERNEL_CHOICES } from '../src/ops/conv2d.js';
import { DEFAULT_ARCHS, parseBenchOptions, type BenchCliOptions, type BenchOptions } from './options.js';
import { runBench } from './run.js';

function buildProgram(): Command {
  const collect = (v: string, all: string[]) => [...all, v];
  return new Command()
    .name('bench')
    .description('speed benchmark: load time, first and timed inferences, GFLOP/s, GPU memory and per-step times of ' +
      'ResNet / ResNeXt models with random weights, against the adapter\'s GEMM ceiling, with the targets')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .option('--arch <list>', 'architectures, comma-separated, or "all"', DEFAULT_ARCHS.join(','))
    .option('--size <n>', 'input height and width', '224')
    .option('--batch <list>', 'batch sizes, comma-separated', '1,4')
    .option('--runs <n>', 'timed inferences per batch size (median and min are reported)', '3')
    .addOption(new Option('--adapter <name>', 'WebGPU adapter').choices([...ADAPTER_CHOICES]).default('default'))
    .addOption(new Option('--kernels <family>', 'the models\' convolution kernel family').choices([...KERNEL_CHOICES]).default('auto'))
    .option('--ceiling-size <n>', 'S of the S x S x S matmul that gives the ceiling', '1024')
    .option('--json <file>', 'also write every figure as JSON')
    .addOption(new Option('--steps <mode>', 'per-step times: timestamp-query where available, else wall clock per step')
      .choices(['auto', 'wall', 'none']).default('auto'))
    .option('--slowest <n>', 'how many of the slowest steps to list', '10')
    .option('--layers', 'also print, per conv layer of each measured model, its FLOPs, the bytes the runtime\'s pick asks of ' +
      'global memory and the arithmetic intensity (a roofline view on paper, estimates; always in --json)')
    .option('--micro', 'kernel microbenchmark: conv shapes across the kernel variants of bench/variants.ts')
    .option('--shape <N,H,W,C,K,R,stride,pad,groups>', '--micro: a conv shape instead of the default layers (repeatable)', collect, [])
    .option('--variant <name>', '--micro: only this kernel variant (repeatable)', collect, [])
    .option('--tuning <modes|json>', 'the on-device tuner: auto, heuristic or auto,heuristic (each model loaded once per mode and ' +
      'measured side by side, each load tuning from an empty store; default: the adapter\'s, auto on hardware GPUs, heuristic on ' +
      'SwiftShader and llvmpipe). With --micro: also the production kernel with this launch geometry, e.g. ' +
      '\'{"tq":4,"jn":2,"wgX":4,"wgY":1,"direct":true,"channelLanes":false}\' (repeatable; unset fields: the runtime\'s)', collect, [])
    .option('--tuning-budget <ms>', 'the tuner\'s time budget per model (default: 2000 on hardware GPUs, 60000 on CPU adapters)')
    .option('--first', 'time to the first prediction instead: per architecture (also "embedded", the shipped Fashion-MNIST ' +
      'model) and warmup, in a fresh process each: loadModel from bytes in memory -> first classify() result, pipelines ' +
      'compiled and their compile time, the classify() calls until the tuned kernels are in, then the steady-state median')
    .option('--warmup <list>', '--first: loadModel warmups to compare, comma-separated (fast-first, tuned)', 'fast-first,tuned')
    .option('--browser', 'also run the model benchmark in headless Chromium (Playwright, /usr/bin/chromium); with --first, ' +
      'the time to the first prediction there instead, in a fresh Chromium per architecture (default warmup)')
    .addOption(new Option('--precision <p>', 'model benchmark: storage of weights and activations (f16 halves the memory; ' +
      'arithmetic stays f32)').choices(['f32', 'f16']).default('f32'))
    .option('--quiet', 'no progress lines on stderr');
}

/** Runs the benchmark with the command line `argv`; returns the exit status. */
async function main(argv: string[]): Promise<number> {
  let options: BenchOptions;
  try {
    const program = buildProgram().parse(argv);
    options = parseBenchOptions(program.opts<BenchCliOptions>());
  } catch (e) {
    // Commander already printed its message; --help exits 0.
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    process.stderr.write(`error: ${(e as Error).message}\n`);
    return 2;
  }
  try {
    await runBench(options);
    return 0;
  } catch (e) {
    if (e instanceof WebGPUUnavailableError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv);
