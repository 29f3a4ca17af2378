// `npm run bench [-- options]`: the same as `webgpu-resnext bench [options]` (src/cli.ts, which
// parses the options and calls bench/run.ts). `npm run bench -- --help` lists the options.

import { main } from '../src/cli.js';

process.exitCode = await main([process.argv[0], 'bench', 'bench', ...process.argv.slice(2)]);
