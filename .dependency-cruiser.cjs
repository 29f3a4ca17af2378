// Import rules (`npm run lint:imports`, checked by test/imports.test.ts): imports point one way,
// from the tools (cli/, bench/, demo/, weights-tools/, test/) to the library (src/), never back;
// the runtime does not lean on the CPU reference (src/reference/, the test oracle); no cycles.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle of imports: modules that cannot be read, tested or loaded one without the other.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'library-not-to-tools',
      severity: 'error',
      comment: 'src/ is the library: it imports nothing from the tools built on it, nor from the tests.',
      from: { path: '^src/' },
      to: { path: '^(cli|bench|weights-tools|demo|test)/' },
    },
    {
      name: 'runtime-not-to-reference',
      severity: 'error',
      comment: 'src/reference/ is the CPU oracle the tests compare with; the runtime (the rest of src/) does not import it. ' +
        'The one exception is a dynamic import: validate() loads src/reference/steps.ts when it is called.',
      from: { path: '^src/', pathNot: '^src/reference/' },
      to: { path: '^src/reference/', dependencyTypesNot: ['dynamic-import'] },
    },
    {
      name: 'weights-tools-not-to-apps',
      severity: 'error',
      comment: 'weights-tools/ is a library for the CLI, the demo and the bench: it does not import them.',
      from: { path: '^weights-tools/' },
      to: { path: '^(cli|bench|demo)/' },
    },
    {
      name: 'apps-independent',
      severity: 'error',
      comment: 'The CLI, the bench and the demo are separate programs: none imports another.',
      from: { path: '^(cli|bench|demo)/' },
      to: { path: '^(cli|bench|demo)/', pathNot: '^$1/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Build outputs are not source: dist/ (npm run build), demo/dist/ (npm start, npm run demo:build),
    // test-artifacts/ (the browser tests' screenshots), and any node_modules or dist folder below.
    exclude: { path: '(^|/)(dist|node_modules|test-artifacts)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.check.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
