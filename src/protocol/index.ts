/** Celery's wire format: message, envelope and result-meta codecs, serializers and Python-compatible text. */
export type {
  BrokerMessage,
  EmbedOptions,
  KnownState,
  ResultMeta,
  SignatureDict,
  TaskRequest,
  TaskSendSpec,
  TaskState,
} from './types.js';
export { EXCEPTION_STATES, READY_STATES, States } from './types.js';

export { parseJson, pyDumps } from './json.js';
export { argsRepr, kwargsRepr, pyRepr, PyTuple, REPR_MAXSIZE, safeRepr } from './repr.js';
export type { SafeReprOptions } from './repr.js';
export {
  createSerializerRegistry,
  jsonSerializer,
  msgpackSerializer,
  SerializerRegistry,
} from './serializers.js';
export type { EncodedBody, Serializer } from './serializers.js';
export {
  decodeTaskMessage,
  encodeTaskMessage,
  formatPyIsoDate,
  parsePyIsoDate,
  PRODUCER_LANG,
} from './message.js';
export type { DecodeTaskOptions, EncodeTaskOptions } from './message.js';
export { decodeEnvelope, encodeEnvelope } from './envelope.js';
export type { DecodedEnvelope, EnvelopeTransport } from './envelope.js';
export { buildResultMeta, decodeResultMeta, encodeResultMeta } from './result-meta.js';
export type { BuildResultMetaInput } from './result-meta.js';
