/** Result values of `chaos.unencodable` (chaos/app.ts), by name: JSON has no form for any of them but BigInt. */
export const UNENCODABLE_KINDS = ['map', 'bigint', 'nan', 'circular', 'function', 'symbol'] as const;
