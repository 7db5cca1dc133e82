import { describe, expect, it } from 'vitest';
import { maskUrl } from '../../src/transports/index.js';
import { ConfigurationError } from '../../src/errors/index.js';
import { maskPassword } from '../../src/util/mask.js';

describe('masking URLs for banners', () => {
  it('hides every password, including Sentinel addresses and password options', () => {
    expect(maskUrl('redis://:secret@cache:6379/0')).toBe('redis://:***@cache:6379/0');
    expect(maskUrl('sentinel://:pw1@h1:26379;sentinel://:pw2@h2:26379?master_name=m&sentinel_password=s3')).toBe(
      'sentinel://:***@h1:26379;sentinel://:***@h2:26379?master_name=m&sentinel_password=***',
    );
    expect(maskUrl('postgresql://app:p@ss/w0rd@db:5432/r?password=x')).toBe('postgresql://app:***@db:5432/r?password=***');
    expect(maskUrl('sqlite://./celerity.db')).toBe('sqlite://./celerity.db');
  });
});

describe('masking URLs in errors', () => {
  it('hides the password of any scheme, wherever the URL sits in the text', () => {
    expect(maskPassword('amqp://admin:secret@rabbit:5672//')).toBe('amqp://admin:***@rabbit:5672//');
    expect(maskPassword('db+postgresql+psycopg2://app:p@ss/w0rd@db:5432/r')).toBe('db+postgresql+psycopg2://app:***@db:5432/r');
    expect(maskPassword('  redis://:secret@cache/0')).toBe('  redis://:***@cache/0');
    expect(maskPassword('"mongodb://u:secret@db/x"')).toBe('"mongodb://u:***@db/x"');
    expect(maskPassword('unix:///run/redis.sock?db=1&password=secret')).toBe('unix:///run/redis.sock?db=1&password=***');
    expect(maskPassword('sentinel://:a@h1;sentinel://u:b@h2?master_name=m&sentinel_password=c')).toBe(
      'sentinel://:***@h1;sentinel://u:***@h2?master_name=m&sentinel_password=***',
    );
  });

  it('leaves URLs without a password as they are', () => {
    for (const url of ['sqlite://./celerity.db', 'memory://', 'redis://cache:6379/0', 'postgresql://app@db/r', 'rpc://']) {
      expect(maskPassword(url)).toBe(url);
    }
  });

  it('ConfigurationError masks the value it names, in its message and its value', () => {
    const err = new ConfigurationError('events broker', 'amqp://admin:secret@rabbit//', 'a Redis broker URL');
    expect(err.message).toBe('invalid setting events broker="amqp://admin:***@rabbit//": expected a Redis broker URL');
    expect(err.value).toBe('amqp://admin:***@rabbit//');
    const nested = new ConfigurationError('x', { urls: ['redis://:secret@a', 7], at: new Date(0) }, 'y');
    expect(nested.message).toBe('invalid setting x={"urls":["redis://:***@a",7],"at":"1970-01-01T00:00:00.000Z"}: expected y');
    expect(new ConfigurationError('n', 3, 'a string').message).toBe('invalid setting n=3: expected a string');
  });
});
