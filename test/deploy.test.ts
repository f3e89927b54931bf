import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// Docker cannot run here, so check what can be checked without an engine: the files parse, and
// every setting they pass to the API is one the code actually reads.
const configSource = readFileSync('src/config.ts', 'utf8');
const knownVariables = new Set([...configSource.matchAll(/\(\s*env,\s*'([A-Z_]+)'/g)].map((m) => m[1]));

describe('deployment files', () => {
  const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
    services: Record<string, { build?: unknown; image?: string; environment?: Record<string, string>; command?: string[] }>;
  };

  it('docker-compose.yml runs Redis with AOF persistence and two API instances built from this repo', () => {
    expect(compose.services['redis']?.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    const api = Object.values(compose.services).filter((s) => s.build);
    expect(api.length).toBe(2);
  });

  it('passes the API only variables that src/config.ts reads, and points it at the compose Redis', () => {
    expect(knownVariables.size).toBeGreaterThan(10);
    for (const svc of Object.values(compose.services).filter((s) => s.build)) {
      for (const name of Object.keys(svc.environment ?? {})) expect(knownVariables, name).toContain(name);
      expect(svc.environment?.['REDIS_URL']).toMatch(/^redis:\/\/redis:6379$/);
      expect(svc.environment?.['HOST']).toBe('0.0.0.0');
    }
  });

  it('the Dockerfile is multi-stage, installs from the lock file and runs as a non-root user', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toContain('src/main.ts');
  });
});
