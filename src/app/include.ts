/**
 * The `include` setting's patterns, expanded to files: a path or a glob relative to the working directory, where
 * `*` and `?` match within one path segment and `**` matches any number of segments. Node 20 has no fs.glob, so
 * this walks the directories with readdirSync from the longest literal prefix of the pattern.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigurationError } from '../errors/index.js';

const EXPECTED = 'a module path or glob that matches at least one file (relative to the working directory)';

/** Every file the patterns match, absolute, sorted within each pattern, each once, in the order of the patterns. */
export function expandInclude(patterns: readonly string[], cwd = process.cwd()): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const pattern of patterns) {
    const files = matchPattern(pattern, cwd);
    if (files.length === 0) throw new ConfigurationError('include', pattern, EXPECTED);
    for (const f of files) {
      if (!seen.has(f)) {
        seen.add(f);
        out.push(f);
      }
    }
  }
  return out;
}

function isGlob(segment: string): boolean {
  return /[*?]/.test(segment);
}

function matchPattern(pattern: string, cwd: string): string[] {
  const absolute = path.resolve(cwd, pattern);
  const { root } = path.parse(absolute);
  const segments = absolute.slice(root.length).split(path.sep).filter(Boolean);
  const firstGlob = segments.findIndex(isGlob);
  if (firstGlob === -1) return isFile(absolute) ? [absolute] : [];
  const base = path.join(root, ...segments.slice(0, firstGlob));
  const found: string[] = [];
  walk(base, segments.slice(firstGlob), found);
  return found.sort();
}

function walk(dir: string, rest: readonly string[], found: string[]): void {
  const [head, ...tail] = rest;
  if (head === undefined) return;
  if (head === '**') {
    // Zero segments, then one more segment at a time.
    walk(dir, tail, found);
    for (const entry of entries(dir)) {
      if (entry.dir && !entry.name.startsWith('.') && entry.name !== 'node_modules') walk(path.join(dir, entry.name), rest, found);
    }
    return;
  }
  const re = segmentRegExp(head);
  for (const entry of entries(dir)) {
    if (!re.test(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (tail.length === 0) {
      if (!entry.dir && !found.includes(full)) found.push(full);
    } else if (entry.dir) {
      walk(full, tail, found);
    }
  }
}

function entries(dir: string): { name: string; dir: boolean }[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).map((d) => {
      const full = path.join(dir, d.name);
      return { name: d.name, dir: d.isDirectory() || (d.isSymbolicLink() && isDir(full)) };
    });
  } catch {
    return [];
  }
}

/** One path segment's glob as a RegExp: `*` any run of characters but `/`, `?` one; a leading dot is literal. */
function segmentRegExp(segment: string): RegExp {
  let source = '';
  for (const c of segment) {
    if (c === '*') source += '[^/\\\\]*';
    else if (c === '?') source += '[^/\\\\]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  // Like shells, `*` does not match hidden files unless the pattern starts with a dot.
  return new RegExp(segment.startsWith('.') ? `^${source}$` : `^(?!\\.)${source}$`);
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
