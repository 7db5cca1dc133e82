/**
 * The Celerity snapshot a benchmark runs: src/ compiled with the project's own tsc settings into `dir/dist` (with
 * the .lua/.sql files the adapters read beside their modules, and the repository's node_modules linked in), so
 * every Celerity process of a run loads the same code, as the package ships it, unchanged while src/ is edited.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Builds into `dir`; returns the path of the snapshot's index.js. Compiler errors go to `warnings` (built anyway). */
export function buildSnapshot(root: string, dir: string, warnings: string[]): string {
  const out = path.join(dir, 'dist');
  const tsc = spawnSync(
    process.execPath,
    [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out, '--declaration', 'false', '--sourceMap', 'false'],
    { cwd: root, encoding: 'utf8' },
  );
  if (!existsSync(path.join(out, 'index.js'))) throw new Error(`tsc produced no build:\n${tsc.stdout}${tsc.stderr}`);
  if (tsc.status !== 0) warnings.push(`tsc reported errors while building the snapshot (built anyway): ${tsc.stdout.split('\n')[0]}`);
  const copyAssets = (from: string): void => {
    for (const entry of readdirSync(from, { withFileTypes: true })) {
      const file = path.join(from, entry.name);
      if (entry.isDirectory()) copyAssets(file);
      else if (/\.(sql|lua)$/.test(entry.name)) {
        const to = path.join(out, path.relative(path.join(root, 'src'), file));
        mkdirSync(path.dirname(to), { recursive: true });
        copyFileSync(file, to);
      }
    }
  };
  copyAssets(path.join(root, 'src'));
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return path.join(out, 'index.js');
}

/** The commit the snapshot is built from, and whether src/ has uncommitted changes, for a benchmark's report. */
export function gitState(root: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim();
    return `${head}${dirty ? ` + uncommitted changes in src/ (${dirty.split('\n').length} files)` : ''}`;
  } catch {
    return 'unknown';
  }
}
