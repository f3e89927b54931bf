import type { PresenceChange } from '../../domain/status-rule.js';
import type { Outbox, RoutedFriendship } from '../bus.js';
import { planFriendship, planPresence } from '../routing.js';
import { batch, type Command, type RedisClient } from './connect.js';
import type { RedisKeys } from './keys.js';

/** A stored change to route, and whether its user hides from anyone (their set is read then). */
export interface Routable {
  change: PresenceChange;
  hides: boolean;
}

/** Routes what the engine stored to the inboxes of the instances whose subscribers may see it. */
export interface ChangeRouter {
  /** Presence changes: to the instances of the users' viewers (and of those who watch them). */
  presence(routable: readonly Routable[]): Promise<void>;
  /** Friendship entries: to the instances of their viewers. */
  friendship(entries: readonly RoutedFriendship[]): Promise<void>;
}

export interface ChangeRouterOptions {
  client: RedisClient;
  keys: RedisKeys;
  bus: Outbox;
  /** Visibility 'friends'; under 'everyone' writers also read who watches the changed user. */
  friendship: boolean;
  /**
   * A change was stored but its fan-out failed (Redis unreachable between the two): the event is
   * lost for its viewers (at-most-once, PRESENCE.md) and the write still stands. Without it the
   * failure is thrown to the writer.
   */
  onFanoutError?: (err: Error) => void;
}

/** A change and who may see it: the user's friends (less those they hide from) and the user. */
interface Addressed {
  change: PresenceChange;
  viewers: string[];
}

export function createChangeRouter(opts: ChangeRouterOptions): ChangeRouter {
  const { client, keys, bus } = opts;
  const watch = !opts.friendship;
  const fanout = async (work: () => Promise<void>) => {
    try {
      await work();
    } catch (err) {
      if (!opts.onFanoutError) throw err;
      opts.onFanoutError(err as Error);
    }
  };

  /** The viewers of each change: one pipeline for the users' friends and hidden-from sets. */
  const address = async (routable: readonly Routable[]): Promise<Addressed[]> => {
    const reads: Command[] = [];
    for (const { change, hides } of routable) {
      if (!change.self) reads.push(['smembers', keys.friends(change.userId)]);
      if (hides && !change.self) reads.push(['smembers', keys.hiddenFrom(change.userId)]);
    }
    const lists = (await batch(client, reads)) as string[][];
    let r = 0;
    return routable.map(({ change, hides }) => {
      // A change only the user may see goes to them alone.
      if (change.self) return { change, viewers: [change.userId] };
      const friends = lists[r++]!;
      if (!hides) return { change, viewers: [...friends, change.userId] };
      const hiddenFrom = lists[r++]!;
      const hidden = new Set(hiddenFrom);
      // Instances watching the user regardless of friendship filter their viewers themselves.
      if (watch) change.hiddenFrom = hiddenFrom;
      return { change, viewers: [...friends.filter((f) => !hidden.has(f)), change.userId] };
    });
  };

  /**
   * The users' viewers (one pipeline), then the routes of every viewer and, under visibility
   * 'everyone', who watches each user (one pipeline per Redis node), then one message per instance
   * inbox. Three round trips after the write, whatever the friend count.
   */
  const presence = (routable: readonly Routable[]) =>
    fanout(async () => {
      const changes = await address(routable);
      const distinct = [...new Set(changes.flatMap((c) => c.viewers))];
      const commands: Command[] = distinct.map((v) => ['smembers', keys.routes(v)]);
      const watches = (c: Addressed) => watch && !c.change.self;
      for (const c of changes) if (watches(c)) commands.push(['smembers', keys.watchers(c.change.userId)]);
      const replies = (await batch(client, commands)) as string[][];
      const routes = new Map(distinct.map((v, i) => [v, replies[i]!]));
      let w = distinct.length;
      const watchers = changes.map((c) => (watches(c) ? replies[w++]! : []));
      const plan = planPresence(
        changes.map((c) => c.change),
        changes.map((c) => c.viewers),
        (v) => routes.get(v) ?? [],
        watchers,
      );
      await bus.send(plan);
    });

  const friendship = (entries: readonly RoutedFriendship[]) =>
    fanout(async () => {
      const replies = (await batch(
        client,
        entries.map((e) => ['smembers', keys.routes(e.to)] as Command),
      )) as string[][];
      const routes = new Map(entries.map((e, i) => [e.to, replies[i]!]));
      await bus.send(planFriendship(entries, (v) => routes.get(v) ?? []));
    });

  return { presence, friendship };
}
