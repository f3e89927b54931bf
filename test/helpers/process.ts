import { spawn, type ChildProcess } from 'node:child_process';
import { reap } from './reaper.js';

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  /**
   * Run the README's `npm start` (compile, then `node dist/src/main.js`) in its own process group,
   * signalled as a terminal signals it. Default: `src/main.ts` through tsx, which is faster.
   */
  npmStart?: boolean;
}

/**
 * Starts the server as its own process, the way a user runs it, on a free port, and waits for its
 * "presence listening" log line (LOG_LEVEL info or lower) to learn the URL.
 */
export async function startServerProcess(env: Record<string, string>, timeoutMs = 45_000, opts: StartOptions = {}): Promise<ServerProcess> {
  const environment = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', PORT: '0', METRICS_PORT: '0', ...env };
  const proc = reap(
    opts.npmStart
      ? spawn('npm', ['start'], { env: environment, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
      : spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: environment, stdio: ['ignore', 'pipe', 'pipe'] }),
    { group: opts.npmStart },
  );
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      const m = /"port":(\d+)[^\n]*presence listening/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });
  return {
    proc,
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
      if (opts.npmStart) process.kill(-proc.pid!, signal);
      else proc.kill(signal);
      return exited;
    },
  };
}
