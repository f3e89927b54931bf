import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, signToken } from '../../src/infra/auth.js';
import { DEV_JWT_SECRET, loadConfig } from '../../src/config.js';
import { MeDocument } from '../generated/graphql.js';
import { startApp, TEST_SECRET, type TestServer } from '../helpers/app.js';
import { codes, request } from '../helpers/graphql.js';

const secret = new TextEncoder().encode(TEST_SECRET);
const hs256 = (claims: Record<string, unknown> = {}) =>
  new SignJWT({ ...claims }).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setIssuedAt();
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('HTTP authentication with an HS256 secret', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startApp({ JWT_ISSUER: 'https://id.example', JWT_AUDIENCE: 'presence' });
  });
  afterAll(() => srv?.stop());

  const good = () => hs256().setIssuer('https://id.example').setAudience('presence').setExpirationTime('5m');
  const me = (authorization?: string) => request(srv.url, MeDocument, {}, null, authorization ? { authorization } : {});

  it('accepts a valid token and reads its subject', async () => {
    const res = await me(`Bearer ${await good().sign(secret)}`);
    expect(res.data?.me.userId).toBe('alice');
  });

  it.each([
    ['no token', async () => undefined],
    ['a malformed header', async () => 'Token abc'],
    ['a bad signature', async () => `Bearer ${await good().sign(new TextEncoder().encode('x'.repeat(40)))}`],
    [
      'an expired token',
      async () =>
        `Bearer ${await good()
          .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
          .sign(secret)}`,
    ],
    [
      'a token not valid yet',
      async () =>
        `Bearer ${await good()
          .setNotBefore(Math.floor(Date.now() / 1000) + 600)
          .sign(secret)}`,
    ],
    ['a wrong issuer', async () => `Bearer ${await good().setIssuer('https://evil.example').sign(secret)}`],
    ['a wrong audience', async () => `Bearer ${await good().setAudience('other').sign(secret)}`],
    [
      'no subject',
      async () =>
        `Bearer ${await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://id.example').setAudience('presence').setExpirationTime('5m').sign(secret)}`,
    ],
    ['a blank subject', async () => `Bearer ${await good().setSubject('   ').sign(secret)}`],
    ['a subject with a lone surrogate', async () => `Bearer ${await good().setSubject('sur\ud800').sign(secret)}`],
    [
      'an alg:none token',
      async () => `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', iss: 'https://id.example', aud: 'presence' })}.`,
    ],
    ['garbage', async () => 'Bearer not.a.jwt'],
  ])('refuses %s with UNAUTHENTICATED and no data', async (_name, header) => {
    const res = await me(await header());
    expect(codes(res)).toEqual(['UNAUTHENTICATED']);
    expect(res.data ?? null).toBeNull();
  });

  it('tolerates a few seconds of clock skew', async () => {
    const token = await good()
      .setExpirationTime(Math.floor(Date.now() / 1000) - 2)
      .sign(secret);
    expect((await me(`Bearer ${token}`)).data?.me.userId).toBe('alice');
  });
});

describe('HTTP authentication with a JWKS (RS256/ES256)', () => {
  let srv: TestServer;
  let jwks: Server;
  let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
  let ec: Awaited<ReturnType<typeof generateKeyPair>>;
  let publicJwk: JWK;

  beforeAll(async () => {
    rsa = await generateKeyPair('RS256', { extractable: true });
    ec = await generateKeyPair('ES256', { extractable: true });
    publicJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'rsa', alg: 'RS256', use: 'sig' };
    const keys = [publicJwk, { ...(await exportJWK(ec.publicKey)), kid: 'ec', alg: 'ES256', use: 'sig' }];
    jwks = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys })));
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const { port } = jwks.address() as { port: number };
    srv = await startApp({ JWT_SECRET: undefined, JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json` });
  });
  afterAll(async () => {
    await srv?.stop();
    jwks?.close();
  });

  const me = (token: string) => request(srv.url, MeDocument, {}, token);

  it('accepts RS256 and ES256 tokens signed by the published keys', async () => {
    const rs = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'rsa' })
      .setSubject('bob')
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
    const es = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'ec' })
      .setSubject('carol')
      .setExpirationTime('5m')
      .sign(ec.privateKey);
    expect((await me(rs)).data?.me.userId).toBe('bob');
    expect((await me(es)).data?.me.userId).toBe('carol');
  });

  it('refuses an HS256 token signed with the RSA public key (algorithm confusion)', async () => {
    const pem = Buffer.from(JSON.stringify(publicJwk));
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa' })
      .setSubject('mallory')
      .setExpirationTime('5m')
      .sign(pem);
    expect(codes(await me(forged))).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses HS256 tokens made with the development secret', async () => {
    const dev = await signToken(DEV_JWT_SECRET, 'mallory');
    expect(codes(await me(dev))).toEqual(['UNAUTHENTICATED']);
    const signed = await hs256().setExpirationTime('5m').sign(secret);
    expect(codes(await me(signed))).toEqual(['UNAUTHENTICATED']);
  });
});

describe('the cache of verified tokens (issue 11, item 1)', () => {
  const verifier = (env: Record<string, string> = {}) =>
    createVerifier(loadConfig({ JWT_SECRET: TEST_SECRET, JWT_CLOCK_TOLERANCE_S: '0', ...env }).jwt, 128);
  const sign = (sub: string, exp: number | string = '5m') =>
    new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime(exp).sign(secret);
  const refused = async (p: Promise<unknown>) =>
    expect(
      await p.then(
        () => 'accepted',
        (e: { extensions?: { code?: string } }) => e.extensions?.code,
      ),
    ).toBe('UNAUTHENTICATED');

  it('verifies a token once, then answers from the cache', async () => {
    const verify = verifier();
    const token = await sign('alice');
    for (let i = 0; i < 5; i++) expect(await verify(token)).toMatchObject({ userId: 'alice', service: false });
    expect(verify.cacheStats()).toEqual({ size: 1, hits: 4, misses: 1 });
  });

  it('refuses a token that expires while cached', async () => {
    const verify = verifier();
    const exp = Math.ceil(Date.now() / 1000) + 1;
    const token = await sign('alice', exp);
    expect((await verify(token)).userId).toBe('alice');
    expect((await verify(token)).userId).toBe('alice');
    expect(verify.cacheStats().hits).toBe(1);
    await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 20));
    await refused(verify(token));
    expect(verify.cacheStats().size).toBe(0);
  });

  it('never caches a token with a bad signature, a tampered payload or an unusable subject', async () => {
    const verify = verifier();
    const good = await sign('alice');
    await verify(good);
    const [header, payload] = good.split('.');
    const other = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('y'.repeat(40)));
    const tampered = `${header}.${Buffer.from(JSON.stringify({ sub: 'mallory', exp: 4_000_000_000 })).toString('base64url')}.${good.split('.')[2]}`;
    for (let i = 0; i < 3; i++) {
      await refused(verify(other));
      await refused(verify(tampered));
      await refused(verify(`${header}.${payload}.`));
      await refused(verify(await sign('   ')));
    }
    expect(verify.cacheStats()).toMatchObject({ size: 1, hits: 0 });
  });

  it('cannot grow past JWT_CACHE_SIZE: the least recently used token is verified again', async () => {
    const verify = verifier({ JWT_CACHE_SIZE: '3' });
    const tokens = await Promise.all(Array.from({ length: 10 }, (_, i) => sign(`user-${i}`)));
    for (const t of tokens) await verify(t);
    expect(verify.cacheStats()).toEqual({ size: 3, hits: 0, misses: 10 });
    await verify(tokens[9]!); // held
    await verify(tokens[0]!); // evicted long ago: verified again, and evicts tokens[7]
    expect(verify.cacheStats()).toEqual({ size: 3, hits: 1, misses: 11 });
    await verify(tokens[8]!);
    await verify(tokens[7]!);
    expect(verify.cacheStats()).toEqual({ size: 3, hits: 2, misses: 12 });
  });

  it('verifies again after JWT_CACHE_MAX_AGE_S, and not at all with the cache off', async () => {
    const verify = verifier({ JWT_CACHE_MAX_AGE_S: '1' });
    const token = await sign('alice', '1h');
    await verify(token);
    await verify(token);
    await new Promise((r) => setTimeout(r, 1_050));
    await verify(token);
    expect(verify.cacheStats()).toEqual({ size: 1, hits: 1, misses: 2 });

    const off = verifier({ JWT_CACHE_SIZE: '0' });
    await off(token);
    await off(token);
    expect(off.cacheStats()).toEqual({ size: 0, hits: 0, misses: 2 });
  });
});
