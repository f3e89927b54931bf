/**
 * Lua scripts, registered with ioredis defineCommand (EVALSHA with a transparent EVAL fallback).
 * Every key a script touches shares one hash tag, so each runs on one Cluster slot.
 *
 * Values are `t * 8 + status` (t in ms): one integer, which listpack stores in 9 bytes.
 * Numbers cross the Lua boundary as strings formatted with %d, because Lua 5.1 numbers are
 * doubles and Redis would otherwise print large ones in exponent form.
 */

/**
 * KEYS[1] bucket; ARGV: field, status code, now (ms), channel, JSON-encoded user id.
 * Mirrors nextPresence() in src/presence.ts. Writes and publishes in one atomic step, so no
 * instance can see the new state without its event or the event without the state.
 * Returns { changed (0|1), previous status, t }.
 */
export const SET_STATUS = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local status = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local prev = 0
local t = now
if cur then
  local v = tonumber(cur)
  prev = v % 8
  local pt = (v - prev) / 8
  if prev == status then return {0, prev, string.format('%d', pt)} end
  if prev == 4 and status == 0 then t = pt + 1 else t = math.max(now, pt + 1) end
end
local ts = string.format('%d', t)
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', t * 8 + status))
redis.call('PUBLISH', ARGV[4], '{"u":' .. ARGV[5] .. ',"p":' .. prev .. ',"s":' .. status .. ',"t":' .. ts .. '}')
return {1, prev, ts}
`;
