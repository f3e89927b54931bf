import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../src/auth.js';
import { DEV_JWT_SECRET } from '../src/config.js';
import { MeDocument } from './generated/graphql.js';
import { startApp, TEST_SECRET, type TestServer } from './helpers/app.js';
import { codes, request } from './helpers/graphql.js';

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
  const me = (authorization?: string) =>
    request(srv.url, MeDocument, {}, null, authorization ? { authorization } : {});

  it('accepts a valid token and reads its subject', async () => {
    const res = await me(`Bearer ${await good().sign(secret)}`);
    expect(res.data?.me.userId).toBe('alice');
  });

  it.each([
    ['no token', async () => undefined],
    ['a malformed header', async () => 'Token abc'],
    ['a bad signature', async () => `Bearer ${await good().sign(new TextEncoder().encode('x'.repeat(40)))}`],
    ['an expired token', async () => `Bearer ${await good().setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(secret)}`],
    ['a token not valid yet', async () => `Bearer ${await good().setNotBefore(Math.floor(Date.now() / 1000) + 600).sign(secret)}`],
    ['a wrong issuer', async () => `Bearer ${await good().setIssuer('https://evil.example').sign(secret)}`],
    ['a wrong audience', async () => `Bearer ${await good().setAudience('other').sign(secret)}`],
    ['no subject', async () => `Bearer ${await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://id.example').setAudience('presence').setExpirationTime('5m').sign(secret)}`],
    ['a blank subject', async () => `Bearer ${await good().setSubject('   ').sign(secret)}`],
    ['a subject with a lone surrogate', async () => `Bearer ${await good().setSubject('sur\ud800').sign(secret)}`],
    ['an alg:none token', async () => `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', iss: 'https://id.example', aud: 'presence' })}.`],
    ['garbage', async () => 'Bearer not.a.jwt'],
  ])('refuses %s with UNAUTHENTICATED and no data', async (_name, header) => {
    const res = await me(await header());
    expect(codes(res)).toEqual(['UNAUTHENTICATED']);
    expect(res.data ?? null).toBeNull();
  });

  it('tolerates a few seconds of clock skew', async () => {
    const token = await good().setExpirationTime(Math.floor(Date.now() / 1000) - 2).sign(secret);
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
    const rs = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'rsa' }).setSubject('bob').setExpirationTime('5m').sign(rsa.privateKey);
    const es = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'ec' }).setSubject('carol').setExpirationTime('5m').sign(ec.privateKey);
    expect((await me(rs)).data?.me.userId).toBe('bob');
    expect((await me(es)).data?.me.userId).toBe('carol');
  });

  it('refuses an HS256 token signed with the RSA public key (algorithm confusion)', async () => {
    const pem = Buffer.from(JSON.stringify(publicJwk));
    const forged = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'rsa' }).setSubject('mallory').setExpirationTime('5m').sign(pem);
    expect(codes(await me(forged))).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses HS256 tokens made with the development secret', async () => {
    const dev = await signToken(DEV_JWT_SECRET, 'mallory');
    expect(codes(await me(dev))).toEqual(['UNAUTHENTICATED']);
    const signed = await hs256().setExpirationTime('5m').sign(secret);
    expect(codes(await me(signed))).toEqual(['UNAUTHENTICATED']);
  });
});
