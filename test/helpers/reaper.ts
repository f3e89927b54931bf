import type { ChildProcess } from 'node:child_process';

/**
 * Every process a test starts is killed when the test worker exits, even when a failing hook
 * skipped its cleanup: no redis-server or API server outlives the suite.
 */
const children = new Set<ChildProcess>();
/** Children started detached: each leads its own process group (`npm start` and the node it runs). */
const groups = new WeakSet<ChildProcess>();
process.once('exit', () => {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    if (groups.has(child)) process.kill(-child.pid!, 'SIGKILL');
    else child.kill('SIGKILL');
  }
});

export function reap<T extends ChildProcess>(child: T, opts: { group?: boolean } = {}): T {
  children.add(child);
  if (opts.group) groups.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
