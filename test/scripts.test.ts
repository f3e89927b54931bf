import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The npm scripts a newcomer runs first, run as npm runs them.
describe('npm scripts', () => {
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
