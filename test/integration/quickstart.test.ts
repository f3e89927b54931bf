import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeDocument, SetPresenceDocument } from '../generated/graphql.js';
import { ok } from '../helpers/graphql.js';
import { startServerProcess, type ServerProcess } from '../helpers/process.js';

// The README's quick start, as a new user runs it: `npm start` (which compiles to dist/ first),
// no .env, no Redis, a dev token from the script.
describe('quick start', () => {
  let srv: ServerProcess;
  beforeAll(async () => {
    srv = await startServerProcess({}, 90_000, { npmStart: true });
  }, 120_000);
  afterAll(() => srv?.stop());

  it('prints the GraphiQL address, how to get a token, and a loud warning about the development secret', () => {
    expect(srv.output()).toContain(`GraphiQL:  ${srv.url}/graphql`);
    expect(srv.output()).toContain('npm run token -- alice');
    expect(srv.output()).toMatch(/"level":40.*development secret/);
  });

  it('serves GraphiQL to a browser from this server alone (test/integration/graphiql.test.ts drives it)', async () => {
    const res = await fetch(`${srv.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<title>Presence GraphiQL</title>');
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)="https?:/);
  });

  it('serves the board with the script `npm run build` bundled into dist/ (no esbuild at run time)', async () => {
    expect(srv.output()).toContain(`Board:     ${srv.url}/board`);
    expect(existsSync('dist/src/board/board.bundle.js')).toBe(true);
    const page = await fetch(`${srv.url}/board`);
    expect(page.status).toBe(200);
    expect(await page.text()).not.toMatch(/<(script|link)[^>]+(src|href)="https?:/);
    const script = await fetch(`${srv.url}/board/board.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).toBe(readFileSync('dist/src/board/board.bundle.js', 'utf8'));
  });

  it('accepts a token from `npm run token` and answers on the memory engine', async () => {
    const token = execFileSync(process.execPath, ['--import', 'tsx', 'scripts/token.ts', 'alice'], { encoding: 'utf8' }).trim();
    expect((await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, token)).setPresence.status).toBe('ONLINE');
    expect((await ok(srv.url, MeDocument, {}, token)).me).toMatchObject({ userId: 'alice', status: 'ONLINE' });
    const svc = execFileSync(process.execPath, ['--import', 'tsx', 'scripts/token.ts', 'ops', '--service'], { encoding: 'utf8' }).trim();
    expect(JSON.parse(Buffer.from(svc.split('.')[1]!, 'base64url').toString())).toMatchObject({ sub: 'ops', role: 'service' });
  });

  it('stops cleanly on Ctrl-C', async () => {
    await srv.stop('SIGINT');
    expect(srv.output()).toContain('presence stopped');
  });
});
