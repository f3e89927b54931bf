import { FriendLimitError } from '../../domain/errors.js';
import type { FriendGraph } from '../ports.js';
import { friendshipEntries } from '../routing.js';
import type { ChangeRouter } from './change-router.js';
import { batch, type Command, type RedisClient } from './connect.js';
import type { RedisKeys } from './keys.js';

/**
 * Friendship, stored in both users' sets (`friends:`). The two sides live on different slots, so
 * an update is one pipelined batch rather than a transaction; both commands are idempotent. The
 * count is taken from the caller's side so a retried call after a partial failure repairs without
 * recounting. Every pair asked for is routed as changed, changed now or not: a call answered with
 * an error after Redis applied it (a stall past the command timeout) changes nothing when retried,
 * and routing only what changed would then never tell open subscriptions (README, "Errors"). A
 * repeated announcement is a no-op for a subscriber. The change is routed after the write: inbox
 * delivery is at-most-once, and a subscriber that misses it still sees the friendship on its next
 * read.
 */
export function createRedisFriendGraph(opts: {
  client: RedisClient;
  keys: RedisKeys;
  changes: Pick<ChangeRouter, 'friendship'>;
  /** Friends one user may have. */
  maxFriends: number;
}): FriendGraph {
  const { client, keys, changes, maxFriends } = opts;
  const mutate = async (op: 'sadd' | 'srem', userId: string, friendIds: readonly string[]): Promise<number> => {
    if (friendIds.length === 0) return 0;
    const commands: Command[] = [[op, keys.friends(userId), ...friendIds]];
    for (const f of friendIds) commands.push([op, keys.friends(f), userId]);
    const [count] = (await batch(client, commands)) as number[];
    await changes.friendship(friendshipEntries(userId, friendIds, op === 'sadd' ? 'added' : 'removed'));
    return count!;
  };
  return {
    async friendsOf(userId) {
      const ids = await client.smembers(keys.friends(userId));
      return ids.sort();
    },

    async addFriends(userId, friendIds) {
      if (friendIds.length === 0) return 0;
      // The cap is checked before anything is written, so a refused call stores nothing. Checks and
      // writes are separate round trips: concurrent calls for one user may overshoot it by their
      // own size, which still bounds one change's fan-out.
      const [count, member, ...sizes] = (await batch(client, [
        ['scard', keys.friends(userId)],
        ['smismember', keys.friends(userId), ...friendIds],
        ...friendIds.map((f) => ['scard', keys.friends(f)] as Command),
      ])) as [number, number[], ...number[]];
      const fresh = friendIds.filter((_, i) => member[i] !== 1);
      const over = friendIds.filter((_, i) => member[i] !== 1 && sizes[i]! + 1 > maxFriends);
      if (count + fresh.length > maxFriends) over.unshift(userId);
      if (over.length) throw new FriendLimitError(`at most ${maxFriends} friends per user (${over.slice(0, 3).join(', ')} would pass it)`);
      return mutate('sadd', userId, friendIds);
    },

    removeFriends: (userId, friendIds) => mutate('srem', userId, friendIds),
  };
}
