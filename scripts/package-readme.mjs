// npm always ships the package root's README.md; the repository's README.md is the contributors'
// one. `npm pack` and `npm publish` run this around the packing: `in` (prepack) moves README.md
// aside to .readme-contributors.md and puts package/README.md (the users' one) in its place; `out`
// (postpack) moves it back. An `in` after an interrupted pack restores the contributors' README first.
import { copyFileSync, existsSync, renameSync } from 'node:fs';

const path = (p) => new URL(`../${p}`, import.meta.url);
// Not README*: npm ships every README* file of the package root.
const ASIDE = '.readme-contributors.md';
const restore = () => {
  if (existsSync(path(ASIDE))) renameSync(path(ASIDE), path('README.md'));
};
const step = process.argv[2];
if (step === 'in') {
  restore();
  renameSync(path('README.md'), path(ASIDE));
  copyFileSync(path('package/README.md'), path('README.md'));
} else if (step === 'out') {
  restore();
} else {
  console.error('usage: node scripts/package-readme.mjs in|out');
  process.exit(1);
}
