import type { ChildProcess } from 'node:child_process';

/**
 * Every process a test starts is killed when the test worker exits, even when a failing hook
 * skipped its cleanup: no redis-server or API server outlives the suite.
 */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    // A detached child leads its own process group (`npm start` and the node it runs): kill all.
    if (child.spawnargs[0] === 'npm') process.kill(-child.pid!, 'SIGKILL');
    else child.kill('SIGKILL');
  }
});

export function reap<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
