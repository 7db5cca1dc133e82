import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, lowest first: a folder may import from its own layer's folders and from lower layers, never
 * from higher ones (docs/architecture.md has the picture). `import type` counts too. The app's `worker()` is the
 * one deliberate edge downwards from app/ into worker/; the worker reaches the app only through interfaces.
 */
const LAYERS = [
  ['util', 'errors'],
  ['protocol', 'schedule', 'tracing'],
  ['redis', 'sqlite', 'amqp'],
  ['broker', 'backend', 'history'],
  ['transports'],
  ['result'],
  ['canvas'],
  ['control'],
  ['app'],
  ['worker', 'beat', 'monitor', 'metrics'],
  ['api'],
  ['dashboard'],
  ['cli'],
];

/** An import of a folder by a relative path from anywhere in src/ (`../x/`, `../../x/`, ...). */
const folderImport = (folder) => `^(\\.\\./)+${folder}/`;

/** Imports a folder may not make although the layers allow them. */
const EXTRA = {
  // The worker reaches the app through the WorkerApp interface (worker/worker-app.ts), never the Celerity class.
  worker: [{ regex: `${folderImport('app')}celerity\\.js$`, message: 'the worker depends on WorkerApp (worker-app.ts), not on the Celerity class.' }],
};

const layerRules = LAYERS.flatMap((layer, level) => {
  const higher = LAYERS.slice(level + 1).flat();
  if (!higher.length) return [];
  return layer.map((folder) => ({
    files: [`src/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...higher
              .filter((h) => !(folder === 'app' && h === 'worker'))
              .map((h) => ({ regex: folderImport(h), message: `${folder}/ sits below ${h}/ and must not import it (see LAYERS in eslint.config.js).` })),
            ...(EXTRA[folder] ?? []),
          ],
        },
      ],
    },
  }));
});

export default tseslint.config(
  { ignores: ['dist/**', 'dist-check/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  ...layerRules,
  {
    // The app reaches the worker only to construct it (`app.worker()`).
    files: ['src/app/**/*.ts'],
    ignores: ['src/app/celerity.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: folderImport('worker'), message: 'only app.worker() (celerity.ts) reaches into worker/.' }, { regex: folderImport('cli'), message: 'app/ sits below cli/.' }] },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
