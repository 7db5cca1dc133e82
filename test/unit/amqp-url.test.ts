/** AMQP URLs read as kombu reads them: vhosts, default credentials and ports, failover lists, options, TLS. */
import { describe, expect, it } from 'vitest';
import { parseAmqpUrl } from '../../src/amqp/url.js';
import { ConfigurationError } from '../../src/errors/index.js';

const one = (url: string) => parseAmqpUrl(url).endpoints[0]!;

describe('AMQP URLs', () => {
  it('reads the vhost from the path as kombu does', () => {
    expect(one('amqp://h//').vhost).toBe('/');
    expect(one('amqp://h/').vhost).toBe('/');
    expect(one('amqp://h').vhost).toBe('/');
    expect(one('amqp://h/prod').vhost).toBe('prod');
    expect(one('amqp://h/%2Fteam').vhost).toBe('/team');
  });

  it("defaults to guest:guest, port 5672 (5671 with TLS) and a 60 s heartbeat; pyamqp is amqp", () => {
    expect(one('pyamqp://rabbit')).toMatchObject({ protocol: 'amqp', hostname: 'rabbit', port: 5672, username: 'guest', password: 'guest', heartbeat: 60 });
    expect(one('amqps://u:p%40ss@rabbit/v?heartbeat=0')).toMatchObject({ protocol: 'amqps', port: 5671, username: 'u', password: 'p@ss', heartbeat: 0 });
    expect(one('amqps://rabbit//?ssl_cert_reqs=CERT_NONE').tls).toMatchObject({ rejectUnauthorized: false, servername: 'rabbit' });
    expect(one('amqp://[::1]:5673//').target).toBe('[::1]:5673');
  });

  it('keeps every broker of a failover list, and the caller its own options', () => {
    const url = parseAmqpUrl('amqp://a:5672//;amqp://b:5673/v?max_priority=10', { params: ['max_priority'] });
    expect(url.endpoints.map((e) => e.target)).toEqual(['a:5672', 'b:5673/v']);
    expect(url.params.get('max_priority')).toBeUndefined();
    expect(parseAmqpUrl('amqp://a//?max_priority=10;amqp://b//', { params: ['max_priority'] }).params.get('max_priority')).toBe('10');
  });

  it('refuses what it cannot use, naming it, with the password masked', () => {
    for (const url of ['amqp://h//?heartbeat=-1', 'amqp://h//?frame_max=100', 'amqp://h//?nope=1', 'amqp://h//?ssl_cert_reqs=CERT_NONE', 'amqps://h//?ssl_ca_certs=/no/such/file', 'redis://h/0', '']) {
      expect(() => parseAmqpUrl(url), url).toThrow(ConfigurationError);
    }
    expect(() => parseAmqpUrl('amqp://u:hunter2@h//?heartbeat=x')).toThrow(/amqp:\/\/u:\*\*\*@h\/\/\?heartbeat=x.*heartbeat as a number of seconds/);
  });
});
