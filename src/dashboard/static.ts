/**
 * The dashboard's pages: the built single-page app from a folder (dist/dashboard/). Every client-side route
 * answers index.html, which the page's own router then reads; hashed files under /assets/ never change under one
 * name, so browsers keep them for a year, while index.html is revalidated on each load so a new build shows at
 * once. Nothing comes from a CDN: the pages work without a network beyond this server.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyReply } from 'fastify';
import type { ApiInstance } from '../api/context.js';
import { Problem } from '../api/problem.js';

/** The paths the page's router knows; each is served index.html. */
export const CLIENT_ROUTES = ['/', '/tasks', '/tasks/:id', '/workers', '/workers/:name', '/queues', '/dead-letters', '/schedules', '/login'] as const;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
};

const IMMUTABLE = 'public, max-age=31536000, immutable';
/**
 * Scripts and styles from this server only; inline styles are allowed because the chart library sizes its canvas
 * through style attributes. The API is same-origin, so `connect-src 'self'` covers it and the stream.
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export interface StaticOptions {
  /** The built pages: a folder with index.html and assets/. */
  dir: string;
}

/**
 * Registers the page routes. The routes are `config.open` (auth.ts), so the authentication lets them
 * through: the pages hold no data (the login form is one of them), everything they show comes from the API.
 */
export function registerStatic(api: ApiInstance, options: StaticOptions): void {
  const root = path.resolve(options.dir);
  const assets = path.join(root, 'assets');
  // Served to anyone (auth.ts `open`): the pages hold no data, and the login form is one of them.
  const config = { open: true };

  const index = async (_req: unknown, reply: FastifyReply) => {
    const file = path.join(root, 'index.html');
    if (!(await isFile(file))) {
      throw new Problem(503, `the dashboard's pages are not built: ${file} is missing (run npm run build)`);
    }
    return send(reply, file, { 'cache-control': 'no-cache', 'content-security-policy': CSP });
  };
  for (const url of CLIENT_ROUTES) api.get(url, { schema: { hide: true }, config }, index);

  api.get('/assets/*', { schema: { hide: true }, config }, async (req, reply) => {
    const rest = (req.params as { '*': string })['*'];
    const file = path.resolve(assets, rest);
    // `..`, an absolute path or a NUL could name a file outside the assets folder.
    if (rest.includes('\0') || !file.startsWith(assets + path.sep) || !(await isFile(file))) {
      throw new Problem(404, `no dashboard asset ${JSON.stringify(rest)}`);
    }
    return send(reply, file, { 'cache-control': IMMUTABLE });
  });
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

function send(reply: FastifyReply, file: string, headers: Record<string, string>): FastifyReply {
  return reply
    .headers({ 'x-content-type-options': 'nosniff', ...headers })
    .type(TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream')
    .send(createReadStream(file));
}
