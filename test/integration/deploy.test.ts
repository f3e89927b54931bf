import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startApp, type TestServer } from '../helpers/app.js';

// Docker cannot run here, so check what can be checked without an engine: the files parse, and
// every name they share with the code (services, ports, variables, metrics) matches.
const configSource = readFileSync('src/config.ts', 'utf8');
const knownVariables = new Set([...configSource.matchAll(/\(\s*env,\s*'([A-Z_]+)'/g)].map((m) => m[1]));

type Service = {
  build?: unknown;
  image?: string;
  environment?: Record<string, string>;
  command?: string[];
  volumes?: string[];
  ports?: string[];
  expose?: string[];
  depends_on?: unknown;
};
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, Service> };
const apis = Object.entries(compose.services).filter(([, s]) => s.build);
/** The container path a compose service mounts a repository file at. */
const mountOf = (svc: Service, file: string) => svc.volumes?.find((v) => v.startsWith(`./${file}:`))?.split(':')[1];

describe('docker-compose.yml', () => {
  it('runs Redis with AOF persistence and a health check, and two API instances built from this repo', () => {
    const redis = compose.services['redis']!;
    expect(redis.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    expect(redis).toHaveProperty('healthcheck');
    expect(apis.map(([name]) => name)).toEqual(['api-1', 'api-2']);
  });

  it('passes the API only variables that src/config.ts reads, and points it at the compose Redis', () => {
    expect(knownVariables.size).toBeGreaterThan(20);
    for (const [, svc] of apis) {
      for (const name of Object.keys(svc.environment ?? {})) expect(knownVariables, name).toContain(name);
      expect(svc.environment?.['REDIS_URL']).toBe('redis://redis:6379');
      expect(svc.environment?.['HOST']).toBe('0.0.0.0');
      expect(svc.expose).toContain(svc.environment?.['PORT']);
      expect(svc.expose).toContain(svc.environment?.['METRICS_PORT']);
      expect(svc.environment?.['METRICS_PORT']).not.toBe(svc.environment?.['PORT']);
    }
  });

  it('puts nginx in front of both instances, passing WebSocket upgrades', () => {
    const lb = compose.services['lb']!;
    const conf = readFileSync('deploy/nginx/nginx.conf', 'utf8');
    expect(mountOf(lb, 'deploy/nginx/nginx.conf')).toBe('/etc/nginx/nginx.conf');
    for (const [name, svc] of apis) {
      expect(conf).toContain(`server ${name}:${svc.environment?.['PORT']}`);
      // Metrics stay internal: the load balancer never routes to the metrics listener.
      expect(conf).not.toContain(`${name}:${svc.environment?.['METRICS_PORT']}`);
    }
    expect(conf).toMatch(/proxy_set_header Upgrade \$http_upgrade/);
    expect(conf).toMatch(/proxy_set_header Connection \$connection_upgrade/);
    const listen = /listen (\d+);/.exec(conf)![1];
    expect(lb.ports).toContain(`${listen}:${listen}`);
  });

  it("has Prometheus scrape both instances' internal metrics listener and load the shipped rules", () => {
    const prom = compose.services['prometheus']!;
    const config = parse(readFileSync('deploy/prometheus/prometheus.yml', 'utf8')) as {
      rule_files: string[];
      scrape_configs: { metrics_path: string; static_configs: { targets: string[] }[] }[];
    };
    expect(mountOf(prom, 'deploy/prometheus/prometheus.yml')).toBe('/etc/prometheus/prometheus.yml');
    expect(config.rule_files).toEqual([mountOf(prom, 'deploy/prometheus/alerts.yml')]);
    const targets = config.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
    expect(targets.sort()).toEqual(apis.map(([name, svc]) => `${name}:${svc.environment?.['METRICS_PORT']}`).sort());
    expect(config.scrape_configs[0]!.metrics_path).toBe('/metrics');
  });
});

describe('alert rules', () => {
  type Rule = { alert: string; expr: string; for: string; labels: { severity: string }; annotations: { summary: string } };
  const rules = (parse(readFileSync('deploy/prometheus/alerts.yml', 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap(
    (g) => g.rules,
  );
  let srv: TestServer;
  let exported: Set<string>;
  beforeAll(async () => {
    srv = await startApp();
    const text = await (await fetch(`${srv.metricsUrl}/metrics`)).text();
    exported = new Set([...text.matchAll(/^# TYPE (\S+) (\w+)$/gm)].map((m) => m[1]!));
  });
  afterAll(() => srv?.stop());

  it('cover Redis, errors, delivery lag and the sweeper, each well formed', () => {
    const names = rules.map((r) => r.alert);
    for (const needed of [
      'PresenceRedisUnreachable',
      'PresenceHighErrorRate',
      'PresenceEventDeliveryLag',
      'PresenceSweeperFallingBehind',
    ]) {
      expect(names).toContain(needed);
    }
    for (const r of rules) {
      expect(r.expr.trim(), r.alert).not.toBe('');
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(['page', 'warn'], r.alert).toContain(r.labels.severity);
      expect(r.annotations.summary, r.alert).toBeTruthy();
      // Expression shape: balanced brackets and a comparison that makes it an alert condition.
      for (const [open, close] of ['()', '[]', '{}']) {
        expect(r.expr.split(open!).length, `${r.alert} ${open}${close}`).toBe(r.expr.split(close!).length);
      }
      expect(r.expr, r.alert).toMatch(/(==|>|<|!=)\s*[\d.]+/);
    }
  });

  it('name only metrics a running instance exports', () => {
    const builtIn = new Set(['up']);
    const functions = new Set(['rate', 'sum', 'min', 'max', 'by', 'histogram_quantile', 'clamp_min', 'or', 'and']);
    for (const r of rules) {
      const identifiers = r.expr
        .replace(/\{[^}]*\}/g, '')
        .replace(/\[[^\]]*\]/g, '')
        .replace(/by \([^)]*\)/g, '')
        .match(/[a-z_][a-z0-9_]*/g)!;
      for (const id of identifiers.filter((i) => !functions.has(i) && !builtIn.has(i))) {
        const base = id.replace(/_(bucket|count|sum)$/, '');
        expect(exported.has(id) || exported.has(base), `${r.alert}: ${id}`).toBe(true);
      }
    }
  });
});

describe('Dockerfile', () => {
  it('is multi-stage, builds from the lock file, and runs compiled JavaScript as a non-root user', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/npm ci\b/);
    expect(dockerfile).toMatch(/npm run build && npm prune --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/src\/main\.js"\]$/m);
    expect(dockerfile).not.toMatch(/tsx/);
    // Metrics label series only with these operations' names (src/plugins/prometheus.ts).
    expect(dockerfile).toMatch(/^COPY .*schema\/operations/m);
    expect(dockerfile).toMatch(/^EXPOSE 4000 9464$/m);
  });

  it('needs only production dependencies at run time: every package src/ imports is one', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
    const files = readdirSync('src', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const imported = new Set<string>();
    for (const f of files) {
      // Value imports only: `import type` is erased by the compiler.
      for (const m of readFileSync(`src/${f}`, 'utf8').matchAll(/^import (?!type )[^;]*?from '([^'.][^']*)'/gms)) {
        const spec = m[1]!;
        if (spec.startsWith('node:')) continue;
        imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    }
    expect(imported.size).toBeGreaterThan(5);
    expect([...imported].filter((p) => !(p in pkg.dependencies))).toEqual([]);
  });
});
