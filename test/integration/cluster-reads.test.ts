import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { READ_MANY } from '../../src/engine/redis/scripts.js';
import { AddFriendsDocument, PresencesDocument, SetPresenceDocument } from '../generated/graphql.js';
import { startApp } from '../helpers/app.js';
import { startCluster } from '../helpers/cluster.js';
import { ok } from '../helpers/graphql.js';

// presence(ids) on a Cluster: one READ_MANY per primary holding any of the buckets, nothing else
// sent by the app, and the same answer as on a single server.
describe('reads on Redis Cluster', () => {
  it('reads presence(ids) with one command per node involved', async () => {
    const cluster = await startCluster(3, 0);
    const srv = await startApp({ REDIS_CLUSTER_NODES: cluster.seeds, RATE_LIMIT_COUNT: '1000' });
    try {
      const ids = Array.from({ length: 60 }, (_, i) => `cr-user-${i}`);
      const viewer = 'cr-viewer';
      await ok(srv.url, AddFriendsDocument, { userId: viewer, friendIds: ids.slice(0, 30) }, await srv.token('svc', { service: true }));
      for (const id of ids.slice(0, 5)) await ok(srv.url, SetPresenceDocument, { status: 'BUSY' }, await srv.token(id));
      const token = await srv.token(viewer);
      await ok(srv.url, PresencesDocument, { ids }, token); // loads the script on every node

      // What the app sends each node (background sweeps and leases run too: told apart by name).
      const readMany = createHash('sha1').update(READ_MANY).digest('hex');
      const sent: string[][] = cluster.nodes.map(() => []);
      const monitors = await Promise.all(cluster.nodes.map((n) => cluster.client(n.port).monitor()));
      monitors.forEach((m, i) =>
        m.on('monitor', (_t: string, args: string[], source: string) => {
          if (source === 'lua') return;
          const name = args[0]!.toLowerCase();
          sent[i]!.push(name === 'evalsha' && args[1] === readMany ? 'readMany' : name);
        }),
      );
      await new Promise((r) => setTimeout(r, 300)); // every MONITOR attached
      const { presence } = await ok(srv.url, PresencesDocument, { ids }, token);
      await new Promise((r) => setTimeout(r, 300));
      monitors.forEach((m) => m.disconnect());

      // Strangers read OFFLINE; friends show their real status.
      expect(presence.filter((p) => p.status === 'BUSY').map((p) => p.userId)).toEqual(ids.slice(0, 5));
      const reads = sent.map((cmds) => cmds.filter((c) => c === 'readMany').length);
      expect(reads.every((n) => n <= 1)).toBe(true);
      expect(reads.reduce((a, b) => a + b)).toBeGreaterThanOrEqual(2); // 60 ids spread over several nodes
      expect(sent.flat().filter((c) => c === 'hmget' || c === 'smismember')).toEqual([]);
    } finally {
      await srv.stop();
      await cluster.stop();
    }
  });
});
