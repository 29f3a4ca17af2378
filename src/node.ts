// The package's Node entry (export condition "node"): the public API of src/index.ts with the Node
// platform installed (Dawn through the `webgpu` package, file paths, PNG/JPEG decoding), plus the
// Node-only diagnostics.

import './node/install.js';

export * from './index.js';
export { missingDriverLibrary } from './node/device.js';
