// Builds the dashboard's pages into dist/dashboard/: JSX goes through Vite's own (oxc) transform set for Preact, so
// no Babel; every asset is a hashed file under assets/ and nothing is fetched from elsewhere at run time.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const webRoot = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: webRoot,
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/dashboard', import.meta.url)),
    // dist/dashboard/ also holds the compiled server side (src/dashboard/*.js, by tsc before this build); the build
    // script empties dist/ as a whole before both.
    emptyOutDir: false,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    // The shell stays small; inlining fonts or images as data: URLs would defeat the long cache of hashed files.
    assetsInlineLimit: 0,
  },
});
