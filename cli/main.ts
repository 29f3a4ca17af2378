#!/usr/bin/env node
// The package's command line: `webgpu-resnext <command> ...` (or `npm run cli -- <command> ...`).
//
// One module per command (cli/convert.ts, cli/classify.ts, cli/logits.ts, cli/embed.ts, cli/info.ts), each
// registered in buildProgram(). Errors the user can cause (bad input file, wrong architecture, any
// file-system error, a limit of the device such as --batch or --top, a GPU failure or lost device,
// NaN or infinite weights or outputs) print one clear line on stderr and exit with status 1 — no
// stack trace (cli/errors.ts: asUserError); anything else is a bug and prints its stack. Usage
// errors found by the parser (unknown or conflicting options, bad values) exit with status 2.
// stdout holds only the command's own output (Dawn's messages are kept off it: src/gpu/errors.ts).
//
// Commands:
//   convert <in.pth|in.safetensors> <out.safetensors> [--arch A] [--config F] [--labels F] [--fp16] [--source S]
//       PyTorch checkpoint (zip, legacy, tar; Cadene or torchvision names) or .safetensors ->
//       this project's .safetensors, written atomically.
//   classify <images...> [--weights W] [--arch A] [--top K] [--json] [--resolution test] [--adapter X] [--kernels F] [--tuning M]
//            [--precision P]
//       (W: a .safetensors file or a Hub model, hf-hub:timm/resnet50.a1_in1k)
//       top-k classes of JPEG / PNG files (default weights: the embedded Fashion-MNIST model).
//   logits --input x.npy --output y.npy [--weights W] [--arch A] [--batch N] [--adapter X] [--kernels F] [--tuning M] [--precision P]
//       float32 NCHW .npy in, float32 (N, classes) logits .npy out, for interop with Python.
//   embed [images...] [--input x.npy] --output f.npy [--weights W] [--arch A] [--batch N] [--adapter X] [--kernels F] [--tuning M]
//         [--precision P]
//       pooled features (fc's input) of JPEG / PNG files or of a float32 NCHW .npy -> float32 (N, C) .npy.
//   info <weights> [--arch A] [--json]
//       architecture, metadata, tensors, parameters and bytes of a .safetensors (header only).

import '../src/node/install.js'; // first: the runtime under src/ runs on the Node platform
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ADAPTER_CHOICES } from '../src/gpu/device.js';
import { KERNEL_CHOICES } from '../src/ops/conv2d.js';
import { TUNING_MODES } from '../src/tuning/model-tuning.js';
import { CheckpointError } from '../src/convert/errors.js';
import { removeTempFiles } from '../weights-tools/node-io.js';
import { classifyCommand, type ClassifyCliOptions } from './classify.js';
import { convertCommand, type ConvertCliOptions } from './convert.js';
import { embedCommand, type EmbedCliOptions } from './embed.js';
import { asUserError, CliError } from './errors.js';
import { infoCommand, type InfoCliOptions } from './info.js';
import { LOGITS_BATCH, logitsCommand, type LogitsCliOptions } from './logits.js';

function positiveInt(what: string): (value: string) => number {
  return (value) => {
    const v = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentError(`${what} must be a positive integer`);
    return v;
  };
}

function adapterOption(): Option {
  return new Option('--adapter <name>', 'WebGPU adapter (default: env WEBGPU_ADAPTER, else a hardware GPU, else SwiftShader)')
    .choices([...ADAPTER_CHOICES]);
}

function kernelsOption(): Option {
  return new Option('--kernels <family>', 'convolution kernel family (default: auto, picked per adapter and layer)')
    .choices([...KERNEL_CHOICES]);
}

function precisionOption(): Option {
  return new Option('--precision <p>', 'storage of weights and activations on the GPU: f16 halves the memory (arithmetic stays f32)')
    .choices(['f32', 'f16']).default('f32');
}

// The options every command that runs a model takes.
function weightsOption(): Option {
  return new Option('--weights <file>', '.safetensors weights, or a Hub model hf-hub:<owner>/<name>[@<revision>] such as ' +
    'hf-hub:timm/resnet50.a1_in1k (endpoint: env HF_ENDPOINT, default https://huggingface.co) (default: the embedded Fashion-MNIST model)');
}

function archOption(): Option {
  return new Option('--arch <name>', 'architecture (default: the weights\' metadata)');
}

function tuningOption(): Option {
  return new Option('--tuning <mode>', 'auto: time a few kernel launch geometries per layer shape on this adapter once and keep ' +
    'the fastest in the user\'s cache folder; heuristic: the built-in picks (default: auto on a hardware GPU, heuristic on SwiftShader and llvmpipe)')
    .choices([...TUNING_MODES]);
}

function batchOption(): Option {
  return new Option('--batch <n>', `images per GPU run (default: ${LOGITS_BATCH})`).argParser(positiveInt('--batch'));
}

/** Registers classify, logits, embed and info on `program`. */
function addModelCommands(program: Command): void {
  program
    .command('classify')
    .description('classify JPEG or PNG images: the top classes of each with their probabilities')
    .argument('<images...>', 'image files (JPEG or PNG)')
    .addOption(weightsOption())
    .addOption(archOption())
    .option('--top <k>', 'classes to show per image', positiveInt('--top'), 5)
    .option('--json', 'print JSON: { weights, arch, adapter, results: [{ file, top: [{ index, label, probability }] }] }')
    .addOption(new Option('--resolution <r>', "'test': the weights' evaluation size (a timm model's test_input_size), best accuracy")
      .choices(['default', 'test']))
    .addOption(adapterOption())
    .addOption(kernelsOption())
    .addOption(tuningOption())
    .addOption(precisionOption())
    .action(async (images: string[], opts: ClassifyCliOptions) => classifyCommand(images, opts));
  program
    .command('logits')
    .description('run the network on a float32 NCHW .npy (already normalised) and write its logits as a float32 .npy')
    .requiredOption('--input <x.npy>', 'float32 (N, C, H, W) input, C-order, normalised as the weights\' metadata says')
    .requiredOption('--output <y.npy>', 'float32 (N, classes) logits to write (atomically)')
    .addOption(weightsOption())
    .addOption(archOption())
    .addOption(batchOption())
    .addOption(adapterOption())
    .addOption(kernelsOption())
    .addOption(tuningOption())
    .addOption(precisionOption())
    .action(async (opts: LogitsCliOptions) => logitsCommand(opts));
  program
    .command('embed')
    .description('write the pooled features (global average pool output, the fc layer\'s input) of image files or of a ' +
      'float32 NCHW .npy as a float32 (N, C) .npy')
    .argument('[images...]', 'image files (JPEG or PNG), preprocessed as classify does')
    .option('--input <x.npy>', 'instead of images: float32 (N, C, H, W) input, normalised as for logits')
    .requiredOption('--output <f.npy>', 'float32 (N, C) embeddings to write (atomically)')
    .addOption(weightsOption())
    .addOption(archOption())
    .addOption(batchOption())
    .addOption(adapterOption())
    .addOption(kernelsOption())
    .addOption(tuningOption())
    .addOption(precisionOption())
    .action(async (images: string[], opts: EmbedCliOptions) => embedCommand(images, opts));
  program
    .command('info')
    .description('what a .safetensors weights file holds: architecture, metadata, tensors, parameters, bytes (no GPU)')
    .argument('<weights>', '.safetensors file')
    .option('--arch <name>', 'check the tensors against this architecture instead of the metadata\'s')
    .option('--json', 'print JSON')
    .action(async (weights: string, opts: InfoCliOptions) => infoCommand(weights, opts));
}

function buildProgram(): Command {
  const program = new Command();
  program
    .name('webgpu-resnext')
    .description('WebGPU ResNet / ResNeXt image classifiers: classify images, compute logits, inspect and convert weights')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  program
    .command('convert')
    .description('convert a PyTorch checkpoint (.pth: zip, legacy or tar; Cadene or torchvision names) or a ' +
      '.safetensors file to this project\'s .safetensors weights')
    .argument('<input>', 'checkpoint to read (.pth, .pt, .safetensors)')
    .argument('<output>', '.safetensors file to write (atomically)')
    .addOption(new Option('--arch <name>', 'force a named architecture (default: detected from the tensor names and shapes)').conflicts('config'))
    .option('--config <file>', 'JSON ResNetConfig (+ labels, mean, std, inputRange, colorSpace, source) for a custom model')
    .option('--labels <file>', 'class names, one per line in class-index order (the metadata "labels")')
    .option('--fp16', 'store f16 instead of f32 (half the size)')
    .option('--source <text>', 'metadata "source" (default: e.g. cadene:resnext101_32x4d)')
    .action(async (input: string, output: string, opts: ConvertCliOptions) => convertCommand(input, output, opts));
  addModelCommands(program);
  return program;
}

/** Runs the CLI; returns the exit status. */
async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    // Commander already printed its message; --help / --version exit 0, usage errors 2.
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    const u = asUserError(e);
    if (u instanceof CheckpointError || u instanceof CliError) {
      process.stderr.write(`error: ${u.message.split('\n')[0]}\n`);
      return 1;
    }
    process.stderr.write(`internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    removeTempFiles();
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  });
}
process.exitCode = await main(process.argv);
