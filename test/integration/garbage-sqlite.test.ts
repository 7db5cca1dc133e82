/**
 * The garbage suite on the embedded store: rows written straight into the `messages` table of the app's SQLite
 * file, as another program (or a buggy version of this one) could: headers and properties that are not JSON
 * objects or not even text, bodies no serializer reads, content types and encodings nobody accepts.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { SqliteBroker } from '../../src/broker/sqlite/index.js';
import { decodeRaw, textOfBytes } from '../../src/broker/raw.js';
import type { Celerity } from '../../src/index.js';
import { sqliteApp, tempDir } from '../helpers.js';
import { garbageSuite, prng, randomBytes, sha, taskMessage } from './garbage-suite.js';
import type { FailureCase, GarbageStore } from './garbage-suite.js';

/** A row of `messages` as another writer stores it; `headers` and `properties` may be bytes (a BLOB). */
interface Row {
  headers: string | Buffer;
  properties: string | Buffer;
  body: Buffer;
  contentType: string;
  contentEncoding: string;
}

/** The file of the app opened last (one test at a time in this file). */
let file = '';

function withDb<T>(use: (db: Database.Database) => T): T {
  const db = new Database(file);
  db.pragma('busy_timeout = 5000');
  try {
    return use(db);
  } finally {
    db.close();
  }
}

function row(headers: string | Buffer, body: Buffer | string, over: Partial<Row> = {}): Row {
  return {
    headers,
    properties: '{}',
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    ...over,
  };
}

function goodRow(id: string): Row {
  const m = taskMessage(id);
  return row(JSON.stringify(m.headers), m.body, { properties: JSON.stringify(m.properties) });
}

const headersOf = (id: string, task = 'garbage.count') => JSON.stringify({ lang: 'py', task, id });

function corpus(): Row[] {
  const rand = prng(42);
  const out: Row[] = [];
  const times = (n: number, make: (i: number) => Row) => {
    for (let i = 0; i < n; i++) out.push(make(i));
  };
  times(1000, () => row('null', 'null'));
  for (const headers of ['not json', '', '{', '[]', '42', '"text"', '{"a": 1}}']) times(40, () => row(headers, '[[], {}, {}]'));
  times(100, () => row('{}', '[[], {}, {}]', { properties: '[1]' }));
  times(100, () => row('{}', '[[], {}, {}]', { properties: 'nope' }));
  // Bytes where text belongs, not UTF-8 either.
  times(50, () => row(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), '[[], {}, {}]'));
  times(50, () => row('{}', '[[], {}, {}]', { properties: Buffer.from([0xc0, 0xaf]) }));
  // Bodies no serializer reads, shapes no protocol has, and what nobody accepts.
  times(200, (i) => row(headersOf(`bad-json-${i}`), '{not json'));
  times(200, (i) => row(headersOf(`bad-utf8-${i}`), randomBytes(rand, 1 + Math.floor(rand() * 200))));
  times(100, (i) => row(headersOf(`bad-shape-${i}`), '[1]'));
  times(100, () => row('{}', '"not a dict"'));
  times(50, (i) => row(headersOf(`pickle-${i}`), '\x80\x04K\x01.', { contentType: 'application/x-python-serialize' }));
  times(50, (i) => row(headersOf(`no-type-${i}`), '[[], {}, {}]', { contentType: '' }));
  times(50, (i) => row(headersOf(`ebcdic-${i}`), '[[], {}, {}]', { contentEncoding: 'ebcdic' }));
  times(100, () => row(headersOf('dup-unknown', 'garbage.unknown'), '[[], {}, {}]'));
  // A few MB.
  out.push(row(headersOf('huge'), randomBytes(rand, 3 * 1024 * 1024)));
  out.push(row('{}', Buffer.from(JSON.stringify({ body: 'A'.repeat(3 * 1024 * 1024) }))));
  return out;
}

function failures(): FailureCase<Row>[] {
  const cases: FailureCase<Row>[] = [];
  const add = (what: string, reason: RegExp, make: (id: string) => Row) => {
    const id = `${what.replaceAll(' ', '-')}-${randomUUID()}`;
    cases.push({ what, id, reason, item: make(id) });
  };
  add('headers not JSON, correlation_id', /headers are not a JSON object/, (id) => row('{oops', '[[], {}, {}]', { properties: JSON.stringify({ correlation_id: id }) }));
  add('properties not an object', /properties are not a JSON object/, (id) => row(headersOf(id), '[[], {}, {}]', { properties: '[1]' }));
  add('body not JSON', /invalid JSON body/, (id) => row(headersOf(id), '{nope'));
  add('body not UTF-8', /not valid utf-8/, (id) => row(headersOf(id), Buffer.from([0x5b, 0xff, 0x5d])));
  add('no content type', /content type ""/, (id) => row(headersOf(id), '[[], {}, {}]', { contentType: '' }));
  add('disallowed content type', /x-python-serialize/, (id) => row(headersOf(id), 'x', { contentType: 'application/x-python-serialize' }));
  add('unknown content encoding', /unknown content encoding "ebcdic"/, (id) => row(headersOf(id), '[[], {}, {}]', { contentEncoding: 'ebcdic' }));
  add('protocol 1 body, bad args', /args must be a list/, (id) => row('{}', JSON.stringify({ id, task: 'garbage.count', args: 'x' })));
  add('protocol 1, body not JSON, correlation_id', /not valid|JSON/i, (id) => row('{}', '{nope', { properties: JSON.stringify({ correlation_id: id }) }));
  return cases;
}

/** Compared as stored: text as it is, bytes as Python's surrogateescape text (how the dead letter keeps them). */
const asText = (v: string | Buffer): string => (typeof v === 'string' ? v : textOfBytes(v));

function fingerprint(r: Row): string {
  return sha(JSON.stringify([asText(r.headers), asText(r.properties), r.body.toString('base64'), r.contentType, r.contentEncoding]));
}

interface Stored {
  headers: string | Buffer;
  properties: string | Buffer;
  body: Buffer;
  content_type: string;
  content_encoding: string;
}

const store: GarbageStore<Row> = {
  async open() {
    const tmp = tempDir('celerity-garbage-');
    file = path.join(tmp.dir, 'celerity.db');
    const app = sqliteApp(tmp.dir, {}, 'garbage');
    // The schema exists once the broker has connected.
    await app.broker();
    return {
      app,
      cleanup: async () => {
        await app.close();
        tmp.cleanup();
      },
    };
  },
  async push(_app: Celerity, queue, items) {
    withDb((db) => {
      const insert = db.prepare(
        `INSERT INTO messages (queue, priority, headers, properties, body, content_type, content_encoding, created_at)
         VALUES (?, 0, ?, ?, ?, ?, ?, ?)`,
      );
      db.transaction(() => {
        for (const r of items) insert.run(queue, r.headers, r.properties, r.body, r.contentType, r.contentEncoding, Date.now());
      })();
    });
  },
  good: (id) => goodRow(id),
  corpus: () => corpus(),
  oddButGood() {
    return Array.from({ length: 50 }, (_, i) => {
      const id = `odd-${i}-${randomUUID()}`;
      // Protocol 1 (everything in a dict body), and protocol 2 with headers nobody knows and spaced JSON.
      const item =
        i % 2 === 0
          ? row('{}', JSON.stringify({ id, task: 'garbage.count', args: [id] }))
          : row(JSON.stringify({ lang: 'py', task: 'garbage.count', id, 'x-extra': [1, { a: null }] }), ` [ ["${id}"] , { } , { } ] `);
      return { id, item };
    });
  },
  failures: () => failures(),
  fingerprint,
  // A restore only marks the row ready again: the stored parts are the same.
  restoreKey: fingerprint,
  letterItem(letter) {
    const parts = decodeRaw(letter.raw);
    if (!parts) throw new Error(`dead letter ${letter.id} holds no stored parts: ${letter.raw.slice(0, 100)}`);
    return row(parts.headers, parts.body, { properties: parts.properties, contentType: parts.contentType, contentEncoding: parts.contentEncoding });
  },
  async queued(_app, queue) {
    return withDb((db) =>
      (db.prepare(`SELECT headers, properties, body, content_type, content_encoding FROM messages WHERE queue = ? AND state = 'ready' ORDER BY id`).all(queue) as Stored[]).map((r) =>
        row(r.headers, r.body, { properties: r.properties, contentType: r.content_type, contentEncoding: r.content_encoding }),
      ),
    );
  },
  async reserved() {
    return withDb((db) => (db.prepare(`SELECT count(*) AS n FROM messages WHERE state = 'reserved'`).get() as { n: number }).n);
  },
  async crash(_app, queue) {
    // One reserve takes everything; a visibility timeout of 0 makes every reservation due for restore at once.
    const b = new SqliteBroker({ path: file, visibilityTimeout: 0 });
    await b.connect();
    try {
      return (await b.reserve([queue], { max: 1_000_000, waitMs: 0 })).length;
    } finally {
      await b.close();
    }
  },
  async restore(app) {
    return (await app.broker()).restore();
  },
};

garbageSuite('SQLite', store);
