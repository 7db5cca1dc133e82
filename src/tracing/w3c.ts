/**
 * W3C Trace Context (`traceparent`, `tracestate`) read from and written to task message headers, without the
 * OpenTelemetry API. Python's OpenTelemetry API propagates this format even when the application registered no
 * propagator (its default is `tracecontext,baggage`), while the JavaScript API's default propagator does nothing;
 * this is what lets a TypeScript process that registered only a tracer provider still join Python's traces.
 */

export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';

export interface W3CParent {
  traceId: string;
  spanId: string;
  /** The trace flags byte; bit 0 is "sampled". */
  traceFlags: number;
  /** The raw `tracestate` header, when one came with a valid `traceparent`. */
  traceState: string | undefined;
}

const HEX = /^[0-9a-f]+$/;
const ALL_ZERO = /^0+$/;

/**
 * The parent a message's headers name, or undefined when there is none or it is malformed (a bad header starts
 * a new trace instead of failing the task). A header read from a Python producer may arrive as a list of one value.
 */
export function parseTraceparent(headers: Readonly<Record<string, unknown>>): W3CParent | undefined {
  const value = single(headers[TRACEPARENT])?.trim().toLowerCase();
  if (value === undefined || value.length < 55) return undefined;
  const version = value.slice(0, 2);
  if (!HEX.test(version) || version === 'ff') return undefined;
  // Version 00 has exactly four fields; a later version may append more after a dash.
  if (version === '00' ? value.length !== 55 : value.length > 55 && value[55] !== '-') return undefined;
  if (value[2] !== '-' || value[35] !== '-' || value[52] !== '-') return undefined;
  const traceId = value.slice(3, 35);
  const spanId = value.slice(36, 52);
  const flags = value.slice(53, 55);
  if (!HEX.test(traceId) || ALL_ZERO.test(traceId) || !HEX.test(spanId) || ALL_ZERO.test(spanId) || !HEX.test(flags)) return undefined;
  const state = single(headers[TRACESTATE]);
  return { traceId, spanId, traceFlags: parseInt(flags, 16), traceState: state ? state : undefined };
}

/** `traceparent` for a span, version 00. */
export function formatTraceparent(traceId: string, spanId: string, traceFlags: number): string {
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

function single(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.length === 1 && typeof value[0] === 'string') return value[0];
  return undefined;
}
