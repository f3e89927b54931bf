import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** Runs an npm script; resolves with its exit status and output, failing or not. */
function npmRun(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('npm', ['run', '-s', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// The npm scripts a newcomer runs first, run as npm runs them.
describe('npm scripts', () => {
  it('`npm run token -- --help` explains --service and --expires; a mistake prints the usage, exit 2, no stack trace', () => {
    const help = npmRun(['token', '--', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--expires');
    for (const args of [['--expires', '5x', 'alice'], ['--bogus'], []]) {
      const r = npmRun(['token', '--', ...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('usage: npm run token');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const token = npmRun(['token', '--', 'alice', '--expires', '30s']).stdout.trim();
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number; iat: number };
    expect(claims.exp - claims.iat).toBe(30);
  });

  it('`npm run bench -- --help` prints the options and runs and writes nothing', () => {
    const before = statSync('bench/RESULTS.md').mtimeMs;
    const out = execFileSync('npm', ['run', '-s', 'bench', '--', '--help'], { encoding: 'utf8', timeout: 30_000 });
    expect(out).toMatch(/^Usage: npm run bench/);
    expect(out).toContain('--write');
    expect(out).toContain('BENCH_ONLY');
    expect(statSync('bench/RESULTS.md').mtimeMs).toBe(before);
  });

  it('`npm run bench` refuses an unknown option with exit code 2 before starting anything', () => {
    let status: number | null = null;
    try {
      execFileSync('npm', ['run', '-s', 'bench', '--', '--bogus'], { encoding: 'utf8', stdio: 'pipe', timeout: 30_000 });
    } catch (err) {
      status = (err as { status: number }).status;
    }
    expect(status).toBe(2);
  });
});
