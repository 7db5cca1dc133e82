/**
 * The README's quick start in a fresh `npm init -y` project: this checkout's built package packed with `npm pack`,
 * installed from the tarball by npm (offline: its dependencies come from the npm cache this checkout was installed
 * from), the README's tasks.ts run by `npx celerity worker`, and a client getting the result back on the default
 * SQLite store. Once as an ES-module project with the README's client.ts, once as a CommonJS project (npm's
 * default) with a `require('celerity')` client and the README's CommonJS tasks.js.
 *
 * better-sqlite3's install script looks for a prebuilt binary before compiling SQLite (over a minute here). The
 * test hands it one through prebuild-install's documented local-prebuilds setting, packed from the binary this
 * checkout already built for the same Node, so npm still installs every package, scripts included, from the tarball.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const tmp = tempDir('celerity-npm-init-');
const prebuilds = path.join(tmp.dir, 'prebuilds');
const workers = new Set<ChildProcess>();
let tarball = '';

afterAll(async () => {
  await Promise.all([...workers].map(stop));
  tmp.cleanup();
});

/** The environment of a new user's shell: none of the settings an `npm test` run or CI passes down. */
const env: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|CELERITY_|INIT_CWD$|NODE_OPTIONS$)/i.test(k))),
  npm_config_better_sqlite3_local_prebuilds: prebuilds,
  npm_config_update_notifier: 'false',
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], cwd: string, timeout = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) || 1 : 0, stdout, stderr });
    });
  });
}

async function ok(cmd: string, args: string[], cwd: string): Promise<string> {
  const r = await run(cmd, args, cwd);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** A code block of the README whose first line is `// <file>`. */
function readmeFile(file: string): string {
  const block = new RegExp(String.raw`\x60\x60\x60(?:ts|js)\n(// ${file.replace('.', '\\.')}[^\n]*\n[\s\S]*?)\x60\x60\x60`).exec(readme);
  if (!block) throw new Error(`README.md has no code block starting with // ${file}`);
  return block[1]!;
}

/** `npm init -y` and the packed tarball installed; `--offline` first, `--prefer-offline` when something is not cached. */
async function project(name: string, setup: (dir: string) => Promise<void> = async () => undefined): Promise<string> {
  const dir = path.join(tmp.dir, name);
  mkdirSync(dir);
  await ok('npm', ['init', '-y'], dir);
  await setup(dir);
  const flags = ['--no-audit', '--no-fund'];
  const offline = await run('npm', ['install', '--offline', ...flags, tarball], dir);
  if (offline.code !== 0) await ok('npm', ['install', '--prefer-offline', ...flags, tarball], dir);
  return dir;
}

/** `npx celerity worker ...` in its own process group, so stopping it stops npx and the worker under it. */
function startWorker(dir: string, args: string[]): ChildProcess & { output: () => string } {
  const child = spawn('npx', ['celerity', 'worker', ...args], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  workers.add(child);
  return Object.assign(child, { output: () => output });
}

async function stop(child: ChildProcess): Promise<void> {
  workers.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(-child.pid!, 'SIGTERM');
  await exited;
}

/** Runs a client while `worker` runs; on failure the worker's output explains more than the client's. */
async function client(dir: string, cmd: string, args: string[], worker: ReturnType<typeof startWorker>): Promise<string> {
  const r = await run(cmd, args, dir, 40_000);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}\nworker:\n${worker.output()}`);
  return r.stdout.trim();
}

beforeAll(async () => {
  // The package as published: what `files` and `exports` ship of the built dist/.
  tarball = path.join(tmp.dir, (await ok('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp.dir], root)).trim().split('\n').at(-1)!);
  const sqlite = path.join(root, 'node_modules', 'better-sqlite3');
  const { version } = JSON.parse(readFileSync(path.join(sqlite, 'package.json'), 'utf8')) as { version: string };
  const stage = path.join(tmp.dir, 'prebuild-stage');
  mkdirSync(path.join(stage, 'build', 'Release'), { recursive: true });
  copyFileSync(path.join(sqlite, 'build', 'Release', 'better_sqlite3.node'), path.join(stage, 'build', 'Release', 'better_sqlite3.node'));
  mkdirSync(prebuilds);
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  await ok('tar', ['-czf', path.join(prebuilds, name), '-C', stage, 'build'], tmp.dir);
}, 60_000);

describe('a fresh npm init -y project', () => {
  it('the README states every step this test takes', () => {
    for (const step of ['npm init -y', 'npm pkg set type=module', 'npm install celerity', 'npx celerity worker -A ./tasks.ts', 'npx tsx client.ts', 'npx celerity worker -A ./tasks.js']) {
      expect(readme).toContain(step);
    }
  });

  it('the package ships no source maps and no .js file points at one (they would name sources it does not contain)', async () => {
    const unpacked = path.join(tmp.dir, 'unpacked');
    mkdirSync(unpacked);
    await ok('tar', ['-xzf', tarball, '-C', unpacked], tmp.dir);
    const files = (readdirSync(path.join(unpacked, 'package'), { recursive: true }) as string[]).map((f) => f.split(path.sep).join('/'));
    expect(files).toContain('dist/index.js');
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    const js = files.filter((f) => /\.(c|m)?js$/.test(f));
    const pointing = js.filter((f) => /^\/\/# sourceMappingURL=/m.test(readFileSync(path.join(unpacked, 'package', f), 'utf8')));
    expect(pointing).toEqual([]);
  });

  it('ES modules: the README tasks.ts runs in `npx celerity worker` and client.ts gets 5 back', async () => {
    const dir = await project('esm', async (d) => void (await ok('npm', ['pkg', 'set', 'type=module'], d)));
    writeFileSync(path.join(dir, 'tasks.ts'), readmeFile('tasks.ts'));
    writeFileSync(path.join(dir, 'client.ts'), readmeFile('client.ts'));
    const worker = startWorker(dir, ['-A', './tasks.ts', '-c', '4']);
    expect(await client(dir, 'npx', ['tsx', 'client.ts'], worker)).toBe('5');
    await stop(worker);
  }, 60_000);

  it('CommonJS: tasks.ts and a CommonJS tasks.js run in the worker; require("celerity") is the same API as import', async () => {
    const dir = await project('cjs');
    const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { type?: string };
    expect(manifest.type ?? 'commonjs').toBe('commonjs');
    // Installed from the tarball, not linked: node_modules/celerity is a directory of the package's files.
    expect(readdirSync(path.join(dir, 'node_modules', 'celerity')).sort()).toEqual(expect.arrayContaining(['README.md', 'dist', 'package.json']));

    const same = `const c = require('celerity');
import('celerity').then((m) => console.log(JSON.stringify(Object.keys(c).sort()) === JSON.stringify(Object.keys(m).sort()), c.Celerity === m.Celerity, typeof c.Celerity));`;
    writeFileSync(path.join(dir, 'same.js'), same);
    expect(await ok('node', ['same.js'], dir)).toBe('true true function\n');

    writeFileSync(path.join(dir, 'tasks.ts'), readmeFile('tasks.ts'));
    writeFileSync(path.join(dir, 'tasks.js'), readmeFile('tasks.js'));
    writeFileSync(
      path.join(dir, 'client.js'),
      `const { Celerity } = require('celerity');
const app = new Celerity('demo');
app.sendTask('example.add', [2, 3]).then((r) => r.get({ timeout: 20000 })).then((v) => console.log(v)).finally(() => app.close());
`,
    );
    for (const module of ['./tasks.ts', './tasks.js']) {
      const worker = startWorker(dir, ['-A', module]);
      expect(await client(dir, 'node', ['client.js'], worker)).toBe('5');
      await stop(worker);
      expect(worker.output()).not.toMatch(/cannot load app module/);
    }
  }, 60_000);
});
