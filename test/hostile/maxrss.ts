// Preloaded (`node --import`) into a CLI run by the hostile-input tests: at exit, writes the
// process's peak resident memory (kB, process.resourceUsage().maxRSS) to the file MAXRSS_FILE names.

import { writeFileSync } from 'node:fs';

const file = process.env.MAXRSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
