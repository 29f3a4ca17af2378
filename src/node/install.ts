// Installs the Node platform: imported first by the Node entry (src/node.ts), the CLI, the
// benchmark and the test runner (scripts/test.mjs), which use the modules under src/ directly.

import { installPlatform } from '../platform.js';
import { NODE_PLATFORM } from './platform.js';

installPlatform(NODE_PLATFORM);
