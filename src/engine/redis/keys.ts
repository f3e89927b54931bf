import { bucketOf, packId } from '../../ids.js';

/**
 * Every Redis key and channel name Presence uses, in one place (README, "Redis layout").
 *
 * - `<p>{<bucket>}`            hash: packed user id -> `t * 8 + status` (see presence.ts)
 * - `<p>friends:<userId>`      set of the user's friends' ids
 * - `<p>{<bucket>}:u:<userId>` channel: the user's presence changes (src/realtime/bus.ts)
 * - `<p>{<bucket>}:f:<userId>` channel: the user's friend set changes (src/realtime/bus.ts)
 *
 * The bucket number is the hash tag, so a bucket, the Lua script that writes it and the channel it
 * publishes on all live in one Cluster slot (and sharded pub/sub stays possible).
 */
export interface RedisKeys {
  prefix: string;
  bucket(bucket: number): string;
  /** The hash key and field where a user's record lives. */
  locate(userId: string): { key: string; field: Buffer; bucket: number };
  friends(userId: string): string;
  userChannel(userId: string): string;
  friendsChannel(userId: string): string;
}

export function createKeys(prefix: string, buckets: number): RedisKeys {
  const bucket = (b: number) => `${prefix}{${b}}`;
  const locate = (userId: string) => {
    const field = packId(userId);
    const b = bucketOf(field, buckets);
    return { key: bucket(b), field, bucket: b };
  };
  return {
    prefix,
    bucket,
    locate,
    friends: (userId) => `${prefix}friends:${userId}`,
    userChannel: (userId) => `${bucket(locate(userId).bucket)}:u:${userId}`,
    friendsChannel: (userId) => `${bucket(locate(userId).bucket)}:f:${userId}`,
  };
}
