import { describe, expect, it } from 'vitest';
import { maskUrl } from '../../src/cli/context.js';

describe('masking URLs for banners', () => {
  it('hides every password, including Sentinel addresses and password options', () => {
    expect(maskUrl('redis://:secret@cache:6379/0')).toBe('redis://:****@cache:6379/0');
    expect(maskUrl('sentinel://:pw1@h1:26379;sentinel://:pw2@h2:26379?master_name=m&sentinel_password=s3')).toBe(
      'sentinel://:****@h1:26379;sentinel://:****@h2:26379?master_name=m&sentinel_password=****',
    );
    expect(maskUrl('sqlite://./celerity.db')).toBe('sqlite://./celerity.db');
  });
});
