import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeDocument, SetPresenceDocument } from './generated/graphql.js';
import { ok } from './helpers/graphql.js';
import { startServerProcess, type ServerProcess } from './helpers/process.js';

// The README's quick start, as a new user runs it: no .env, no Redis, dev token from the script.
describe('quick start', () => {
  let srv: ServerProcess;
  beforeAll(async () => {
    srv = await startServerProcess({});
  });
  afterAll(() => srv?.stop());

  it('prints the GraphiQL address, how to get a token, and a loud warning about the development secret', () => {
    expect(srv.output()).toContain(`GraphiQL:  ${srv.url}/graphql`);
    expect(srv.output()).toContain('npm run token -- alice');
    expect(srv.output()).toMatch(/"level":40.*development secret/);
  });

  it('serves GraphiQL to a browser', async () => {
    const res = await fetch(`${srv.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/graphiql/i);
  });

  it('accepts a token from `npm run token` and answers on the memory engine', async () => {
    const token = execFileSync(process.execPath, ['--import', 'tsx', 'scripts/token.ts', 'alice'], { encoding: 'utf8' }).trim();
    expect((await ok(srv.url, SetPresenceDocument, { status: 'ONLINE' }, token)).setPresence.status).toBe('ONLINE');
    expect((await ok(srv.url, MeDocument, {}, token)).me).toMatchObject({ userId: 'alice', status: 'ONLINE' });
    const svc = execFileSync(process.execPath, ['--import', 'tsx', 'scripts/token.ts', 'ops', '--service'], { encoding: 'utf8' }).trim();
    expect(JSON.parse(Buffer.from(svc.split('.')[1]!, 'base64url').toString())).toMatchObject({ sub: 'ops', role: 'service' });
  });

  it('exits cleanly on SIGTERM', async () => {
    expect(await srv.stop()).toBe(0);
  });
});
