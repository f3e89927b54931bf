/**
 * Long-lived connections one user holds on this instance (WS_MAX_CONNECTIONS_PER_USER): graphql-ws
 * sockets and HTTP event streams (SSE) draw on the same allowance, so switching transports does
 * not multiply it. Each socket carries up to WS_MAX_SUBSCRIPTIONS operations, each stream one.
 */
export interface ConnectionQuota {
  readonly max: number;
  /** Takes one connection for `userId`; false (and nothing taken) when the user is at the limit. */
  acquire(userId: string): boolean;
  /** Gives one back; call once per successful acquire. */
  release(userId: string): void;
}

export function createConnectionQuota(max: number): ConnectionQuota {
  const held = new Map<string, number>();
  return {
    max,
    acquire(userId) {
      const n = held.get(userId) ?? 0;
      if (n >= max) return false;
      held.set(userId, n + 1);
      return true;
    },
    release(userId) {
      const left = (held.get(userId) ?? 1) - 1;
      if (left > 0) held.set(userId, left);
      else held.delete(userId);
    },
  };
}
