/**
 * A bare Fastify instance with the API's auth and one route per method, and real hashed credentials for it: alice
 * (read-write) and bob (read-only) by password, one read-write and one read-only token.
 */
import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { generateToken, hashPassword, hashToken, parseCredentials, registerAuth, type AuthOptions, type Credentials } from '../../src/api/auth.js';
import type { ApiInstance } from '../../src/api/context.js';

export const MUTATING = ['POST', 'PUT', 'PATCH', 'DELETE'] as const;
export const METHODS = ['GET', 'HEAD', ...MUTATING] as const;
export const ALICE = 'correct horse battery staple';
export const BOB = 'read only björk';

export interface Fixture {
  creds: Credentials;
  rwToken: string;
  roToken: string;
  /** The instance with auth and routes, ready; closed by `closeAll`. */
  build(credentials?: Credentials, options?: Partial<AuthOptions>): Promise<ApiInstance>;
  closeAll(): Promise<void>;
}

export async function authFixture(): Promise<Fixture> {
  const rwToken = generateToken();
  const roToken = generateToken();
  const creds = parseCredentials({
    apiUsers: [`alice:${await hashPassword(ALICE)}`, `bob:${await hashPassword(BOB)}:ro`],
    apiTokens: [hashToken(rwToken), `${hashToken(roToken)}:ro`],
  });
  const open: ApiInstance[] = [];
  return {
    creds,
    rwToken,
    roToken,
    async build(credentials = creds, options = {}) {
      const api: ApiInstance = Fastify().withTypeProvider<ZodTypeProvider>();
      api.setValidatorCompiler(validatorCompiler);
      api.setSerializerCompiler(serializerCompiler);
      registerAuth(api, credentials, { loopback: true, ...options });
      for (const method of METHODS.filter((m) => m !== 'HEAD')) {
        api.route({ method, url: '/api/v1/things', handler: async (request) => ({ method, caller: request.caller }) });
      }
      api.get('/healthz', async (request) => ({ ok: true, caller: request.caller }));
      api.get('/readyz', async () => ({ ok: true }));
      await api.ready();
      open.push(api);
      return api;
    },
    async closeAll() {
      await Promise.all(open.splice(0).map((api) => api.close()));
    },
  };
}

export const basic = (name: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}` });
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
