/**
 * How json and jsonb columns are read: with the same exact reader as every other stored result, rather than
 * node-postgres's default `JSON.parse`, which rounds integers past 2^53 (a Python task's `2**64 + 1`, a 64-bit id).
 * A json column keeps the text as written, so the digits are there to be read. (PostgreSQL's json type refuses
 * NaN and Infinity, so those never reach this reader from a column.)
 */
import { types } from 'pg';
import type { CustomTypesConfig } from 'pg';
import { parseJson } from '../../protocol/json.js';

const JSON_OID = 114;
const JSONB_OID = 3802;

function readJsonColumn(text: string): unknown {
  return parseJson(text, 'json column');
}

/** The `types` option of the pool: json/jsonb read exactly, every other type as node-postgres reads it. */
export const exactJsonTypes: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    (oid === JSON_OID || oid === JSONB_OID) && format !== 'binary'
      ? readJsonColumn
      : types.getTypeParser(oid, format)) as CustomTypesConfig['getTypeParser'],
};
