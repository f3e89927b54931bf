/**
 * Lua scripts, registered with ioredis defineCommand (EVALSHA with a transparent EVAL fallback, so
 * a Redis restart that empties the script cache costs one extra round trip, not an error).
 *
 * Numbers cross the Lua boundary as strings formatted with %d, because Lua 5.1 numbers are doubles
 * and Redis would otherwise print large ones in exponent form (losing digits).
 */

/**
 * Every change to one user, in one atomic step. Mirrors src/engine/memory (same rules, same
 * contract suite): apply the operation to the user's sessions, drop expired deadline sessions,
 * derive the effective status (presence.ts effectiveStatus), store the record (presence.ts
 * nextRecord), and keep the shard's deadline index and online counter exact. The caller routes
 * the change to the instances of the user's viewers (engine/redis/index.ts, engine/bus.ts).
 * All keys share the shard's hash tag, so this runs on one Cluster slot. Deadlines use the Redis
 * server clock (TIME), so API instances with skewed clocks agree on when a session expires.
 *
 * KEYS: bucket hash, the user's session hash, the shard's deadline zset, the shard's online counter,
 *       the user's settings hash, the user's hidden-from set
 * ARGV: op, field, userId, now (API ms, for lastActiveAt), max sessions per user, then per op:
 *   open     sessionId, owner, status ('' = the device's previous status, else ONLINE)
 *   reopen   sessionId, owner, previous owner, status ('' = unknown)   (only if absent, lingering, or still ours)
 *   close    sessionId, owner, graceMs          (socket closed: linger for the grace, or end)
 *   takeover sessionId, owner, deadline (ms)    (owner died: end at deadline, now if past)
 *   beat     sessionId, ttlMs                   (HTTP heartbeat; a no-op for a socket session)
 *   set      sessionId ('' = every session), status, ttlMs, owner ('' = HTTP)
 *   expire   (nothing: re-evaluate deadlines)
 *   message  text ('' = clear), emoji ('' = none), expiresAt (ms, '' = none)
 *   privacy  lastActive ('' = unchanged, 'F' FRIENDS, 'N' NOBODY), max hidden, n, n ids to hide, m, m ids to unhide
 *   activity sessionId, idleMs, idle slack, ttlMs, ttl slack, owner ('' = HTTP)   (reportActivity:
 *            the device is ONLINE until idleMs + slack from now, and an HTTP device's session
 *            lives ttlMs + slack; nothing is written while the stored moments are still a full
 *            idleMs / ttlMs away (presence.ts activitySlackMs); creates the session like set)
 * A socket owner is one connection (`<instanceId>:<n>`), so two sockets of one device on one
 * instance never end each other's session.
 * Session values: 'w' .. status .. owner (socket) | 'd' .. status .. expiresAt (deadline), then,
 * only on a device that reported activity, '|' .. idleAt (ms, Redis clock): from then on the
 * device reads AWAY (automatic away). The evaluation writes an idle ONLINE device back as AWAY and
 * counts idle moments still ahead in the user's earliest deadline, so the sweep turns it AWAY.
 * Explicit ONLINE/AWAY choices (set, open with a status) drop the suffix; every other op keeps it.
 * The record is `h * 10^15 + t * 32 + sticky bits * 8 + status` (presence.ts decodeRecord and
 * nextState): `h` counts the changes since `t` which only the user sees; it is split off as
 * decimal digits because the whole exceeds a double's 2^53. A trailing '+' flags a user with
 * settings (a message, lastActive, a version offset `v`: the settings hash; or a hidden-from set):
 * only such users cost a read of them. A message's expiry counts among the user's deadlines.
 * Returns { scope (0 none, 1 the user alone, 2 everyone who may see them), status, t, sticky code
 * (0|3|4), h, previous status, v, flagged (0|1), nobody (0|1), message text, emoji, expiresAt
 * ('' when none), hides (0|1), then the ids whose hidden state changed, as '+id' or '-id' },
 * or { -1 } when the op would create a session beyond the user's maximum, or { -2 } when it would
 * hide from more than the maximum (nothing is written then).
 */
export const PRESENCE = `
local OFFLINE, INVISIBLE = 0, 4
local HIDDEN_DIGITS, MAX_HIDDEN = 15, 9000 -- presence.ts HIDDEN_DIGITS, MAX_HIDDEN_CHANGES
local B, S, D, C, X, H = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local op, field, uid = ARGV[1], ARGV[2], ARGV[3]
local now = tonumber(ARGV[4])
local tm = redis.call('TIME')
local rnow = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)

local raw = redis.call('HGET', B, field)
local prevStatus, prevSticky, prevT, prevH = 0, 0, 0, 0
local flagged = false
if raw and raw:sub(-1) == '+' then
  flagged = true
  raw = raw:sub(1, -2)
end
if raw then
  local v
  if #raw > HIDDEN_DIGITS then
    prevH = tonumber(raw:sub(1, -HIDDEN_DIGITS - 1))
    v = tonumber(raw:sub(-HIDDEN_DIGITS))
  else
    v = tonumber(raw)
  end
  prevStatus = v % 8
  local bits = math.floor(v / 8) % 4
  if bits == 1 then prevSticky = 3 elseif bits == 2 then prevSticky = 4 end
  prevT = math.floor(v / 32)
end
local sticky = prevSticky
local maxSessions = tonumber(ARGV[5])

-- Settings (presence.ts Extras): read only for a flagged user.
local mt, me, mx, nobody, v = '', '', '', false, 0
if flagged then
  local x = redis.call('HMGET', X, 'mt', 'me', 'mx', 'p', 'v')
  mt, me, mx, nobody, v = x[1] or '', x[2] or '', x[3] or '', x[4] == 'N', tonumber(x[5]) or 0
end
local prevMt, prevMe, prevMx, prevNobody = mt, me, mx, nobody
local hidChanged = {}

local ONLINE, AWAY, IDLE_MARK = 1, 2, '|'
-- idle: nil keeps the session's idle moment (if any), false drops it, a string sets it.
local function put(sid, kind, st, x, idle)
  local old = redis.call('HGET', S, sid)
  if not old and redis.call('HLEN', S) >= maxSessions then
    error('session limit')
  end
  if idle == nil and old then
    local bar = old:find(IDLE_MARK, 3, true)
    if bar then idle = old:sub(bar + 1) end
  end
  redis.call('HSET', S, sid, kind .. st .. x .. (idle and IDLE_MARK .. idle or ''))
end
-- kind, status, owner or deadline, idle moment (nil when the device never reported activity)
local function get(sid)
  local v = redis.call('HGET', S, sid)
  if not v then return nil end
  local bar = v:find(IDLE_MARK, 3, true)
  if bar then return v:sub(1, 1), tonumber(v:sub(2, 2)), v:sub(3, bar - 1), tonumber(v:sub(bar + 1)) end
  return v:sub(1, 1), tonumber(v:sub(2, 2)), v:sub(3)
end

local ok, err = pcall(function()
  if op == 'open' then
    local kind, st = get(ARGV[6])
    put(ARGV[6], 'w', tonumber(ARGV[8]) or st or 1, ARGV[7], tonumber(ARGV[8]) and false)
  elseif op == 'reopen' then
    local kind, st, x = get(ARGV[6])
    if not kind or kind == 'd' or x == ARGV[8] then put(ARGV[6], 'w', st or tonumber(ARGV[9]) or 1, ARGV[7]) end
  elseif op == 'close' or op == 'takeover' then
    local kind, st, x = get(ARGV[6])
    if kind == 'w' and x == ARGV[7] then
      local deadline = op == 'close' and rnow + tonumber(ARGV[8]) or tonumber(ARGV[8])
      if deadline > rnow then put(ARGV[6], 'd', st, string.format('%d', deadline)) else redis.call('HDEL', S, ARGV[6]) end
    end
  elseif op == 'beat' then
    local kind, st = get(ARGV[6])
    if kind ~= 'w' then put(ARGV[6], 'd', st or 1, string.format('%d', rnow + tonumber(ARGV[7]))) end
  elseif op == 'set' then
    local sid, status = ARGV[6], tonumber(ARGV[7])
    if status == 0 then
      if sid == '' then redis.call('DEL', S) else redis.call('HDEL', S, sid) end
    else
      local activity = nil
      if status == 3 or status == 4 then sticky = status else sticky = 0; activity = status end
      local kind, st, x = get(sid)
      local idle = activity and false -- a chosen ONLINE/AWAY ends automatic away until the next activity
      if kind == 'w' then put(sid, 'w', activity or st, x, idle)
      elseif kind == 'd' or ARGV[9] == '' then put(sid, 'd', activity or st or 1, string.format('%d', rnow + tonumber(ARGV[8])), idle)
      else put(sid, 'w', activity or 1, ARGV[9], idle) end
    end
  elseif op == 'message' then
    mt, me, mx = ARGV[6], ARGV[7], ARGV[8]
    if mt == '' then me, mx = '', '' end
  elseif op == 'privacy' then
    if ARGV[6] ~= '' then nobody = ARGV[6] == 'N' end
    local a = 8
    local hide = {unpack(ARGV, a + 1, a + tonumber(ARGV[a]))}
    a = a + tonumber(ARGV[a]) + 1
    local unhide = {unpack(ARGV, a + 1, a + tonumber(ARGV[a]))}
    local fresh = 0
    if #hide > 0 then
      local member = redis.call('SMISMEMBER', H, unpack(hide))
      for i = 1, #hide do if member[i] == 0 then fresh = fresh + 1 end end
    end
    if #unhide > 0 then
      local member = redis.call('SMISMEMBER', H, unpack(unhide))
      for i = 1, #unhide do if member[i] == 1 then fresh = fresh - 1 end end
    end
    if redis.call('SCARD', H) + fresh > tonumber(ARGV[7]) then error('hidden limit') end
    for i = 1, #unhide do
      if redis.call('SREM', H, unhide[i]) == 1 then table.insert(hidChanged, '-' .. unhide[i]) end
    end
    for i = 1, #hide do
      if redis.call('SADD', H, hide[i]) == 1 then table.insert(hidChanged, '+' .. hide[i]) end
    end
  elseif op == 'activity' then
    local sid, idleMs = ARGV[6], tonumber(ARGV[7])
    local ttl = tonumber(ARGV[9])
    local kind, st, x, idle = get(sid)
    local fresh = kind and st == ONLINE and idle and idle >= rnow + idleMs
    local at = string.format('%d', fresh and idle or rnow + idleMs + tonumber(ARGV[8]))
    if kind == 'w' then
      if not fresh then put(sid, 'w', ONLINE, x, at) end
    elseif kind == 'd' or ARGV[11] == '' then
      local alive = kind == 'd' and tonumber(x) >= rnow + ttl
      if not (fresh and alive) then put(sid, 'd', ONLINE, string.format('%d', rnow + ttl + tonumber(ARGV[10])), at) end
    else put(sid, 'w', ONLINE, ARGV[11], at) end
  end
end)
if not ok then
  if string.find(tostring(err), 'session limit') then return {-1, 0, '0', 0, 0} end
  if string.find(tostring(err), 'hidden limit') then return {-2, 0, '0', 0, 0} end
  error(err)
end
-- An expired message goes (the sweeper runs 'expire' at its moment: it is among the deadlines).
if mx ~= '' and tonumber(mx) <= rnow then mt, me, mx = '', '', '' end

local all = redis.call('HGETALL', S)
local present, online, earliest = false, false, nil
for i = 1, #all, 2 do
  local v = all[i + 1]
  local kind, st, bar = v:sub(1, 1), tonumber(v:sub(2, 2)), v:find(IDLE_MARK, 3, true)
  local x = bar and v:sub(3, bar - 1) or v:sub(3)
  if kind == 'd' and tonumber(x) <= rnow then
    redis.call('HDEL', S, all[i])
  else
    present = true
    if bar and st == ONLINE then
      local idle = tonumber(v:sub(bar + 1))
      if idle <= rnow then
        -- Idle: AWAY from now on, written back so it is not evaluated again.
        st = AWAY
        redis.call('HSET', S, all[i], kind .. AWAY .. v:sub(3))
      elseif not earliest or idle < earliest then
        earliest = idle
      end
    end
    if st == ONLINE then online = true end
    if kind == 'd' and (not earliest or tonumber(x) < earliest) then earliest = tonumber(x) end
  end
end
if mx ~= '' and (not earliest or tonumber(mx) < earliest) then earliest = tonumber(mx) end
if earliest then redis.call('ZADD', D, earliest, uid) else redis.call('ZREM', D, uid) end

local status = 0
if present then
  if sticky ~= 0 then status = sticky elseif online then status = 1 else status = 2 end
end
local hides = (flagged or #hidChanged > 0) and redis.call('EXISTS', H) == 1
local msgChanged = mt ~= prevMt or me ~= prevMe or mx ~= prevMx
local privChanged = nobody ~= prevNobody
local function reply(scope, t, h, prev)
  local out = {scope, status, t, sticky, h, prev, v, flagged and 1 or 0, nobody and 1 or 0, mt, me, mx, hides and 1 or 0}
  for _, id in ipairs(hidChanged) do table.insert(out, id) end
  return out
end
if raw and status == prevStatus and sticky == prevSticky and not msgChanged and not privChanged and #hidChanged == 0 then
  return reply(0, string.format('%d', prevT), prevH, prevStatus)
end
if not raw and status == OFFLINE and sticky == 0 and mt == '' and not nobody and not hides then
  return reply(0, '0', 0, 0)
end

-- presence.ts nextState: a visible status change moves t past every version anyone has read; a
-- move between OFFLINE and INVISIBLE leaves t (all that friends read) alone and counts in h; a
-- settings change others see counts in v, one only the user sees in h.
local function isShown(s) return s ~= OFFLINE and s ~= INVISIBLE end
local t, h, scope = prevT, prevH, 0
if not raw then
  if status == INVISIBLE then t, h, scope = 0, 1, 1
  elseif status ~= OFFLINE then t, scope = now, 2
  elseif msgChanged or privChanged then h, scope = 1, 1 end
elseif status ~= prevStatus and not ((prevStatus == INVISIBLE and status == OFFLINE) or (prevStatus == OFFLINE and status == INVISIBLE)) then
  t, h, v, scope = math.max(now, prevT + v + prevH + 1), 0, 0, 2
elseif (msgChanged and isShown(status)) or (privChanged and (isShown(status) or prevT > 0)) then
  v, scope = v + 1, 2
elseif status ~= prevStatus or msgChanged or privChanged then
  h, scope = math.min(prevH + 1, MAX_HIDDEN), 1
end

-- The settings hash holds what is set; it goes when nothing is (v included).
if mt ~= '' or nobody or v > 0 then
  local fields = {'v', string.format('%d', v)}
  if mt ~= '' then
    table.insert(fields, 'mt'); table.insert(fields, mt)
    if me ~= '' then table.insert(fields, 'me'); table.insert(fields, me) end
    if mx ~= '' then table.insert(fields, 'mx'); table.insert(fields, mx) end
  end
  if nobody then table.insert(fields, 'p'); table.insert(fields, 'N') end
  redis.call('DEL', X)
  redis.call('HSET', X, unpack(fields))
  flagged = true
else
  if flagged then redis.call('DEL', X) end
  flagged = hides
end

local bits = 0
if sticky == 3 then bits = 1 elseif sticky == 4 then bits = 2 end
local value = t * 32 + bits * 8 + status
if h > 0 then value = string.format('%d%0' .. HIDDEN_DIGITS .. 'd', h, value) else value = string.format('%d', value) end
if flagged then value = value .. '+' end
redis.call('HSET', B, field, value)
if status ~= prevStatus then
  if prevStatus == OFFLINE then redis.call('INCR', C) elseif status == OFFLINE then redis.call('DECR', C) end
end
return reply(scope, string.format('%d', t), h, prevStatus)
`;

/**
 * Claims the users of one shard whose earliest deadline has passed, pushing their score `retryMs`
 * ahead so no other sweeper takes them meanwhile. The claimer then runs PRESENCE 'expire' for each,
 * which rewrites the score from the user's real state; if the claimer dies first, the users come
 * due again after `retryMs`. KEYS: deadline zset. ARGV: limit, retryMs. Returns user ids.
 */
export const CLAIM_DUE = `
local tm = redis.call('TIME')
local rnow = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', rnow, 'LIMIT', 0, tonumber(ARGV[1]))
for _, uid in ipairs(due) do redis.call('ZADD', KEYS[1], rnow + tonumber(ARGV[2]), uid) end
return due
`;

/**
 * Renews an instance's lease. KEYS: live zset. ARGV: instance id, leaseMs, register ('1' to join).
 * Returns 0 when the instance is no longer registered (another instance took its sessions over
 * while it was frozen), so it knows to register again and re-open its sessions.
 */
export const RENEW_LEASE = `
local tm = redis.call('TIME')
local rnow = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
if ARGV[3] ~= '1' and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], rnow + tonumber(ARGV[2]), ARGV[1])
return 1
`;

/**
 * Claims dead instances: those whose lease expired, and earlier claims whose claimer died.
 * Never the caller itself (ARGV[4]): an instance that lost its lease re-registers instead.
 * KEYS: live zset, dead zset, last-alive hash. ARGV: leaseMs, claimMs, limit, caller's id.
 * Returns a flat list: instance id, last moment it was known alive (ms), ...
 */
export const CLAIM_DEAD = `
local tm = redis.call('TIME')
local rnow = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local out = {}
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', rnow, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
for i = 1, #expired, 2 do
  local id, alive = expired[i], string.format('%d', tonumber(expired[i + 1]) - tonumber(ARGV[1]))
  if id ~= ARGV[4] then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HSET', KEYS[3], id, alive)
    redis.call('ZADD', KEYS[2], rnow + tonumber(ARGV[2]), id)
    table.insert(out, id)
    table.insert(out, alive)
  end
end
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', rnow, 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(stale) do
  redis.call('ZADD', KEYS[2], rnow + tonumber(ARGV[2]), id)
  table.insert(out, id)
  table.insert(out, redis.call('HGET', KEYS[3], id) or string.format('%d', rnow))
end
return out
`;

/**
 * Removes records of users offline since before ARGV[1] (ms) from one bucket. A record holding a
 * sticky BUSY or INVISIBLE is kept: forgetting it would bring an invisible user back visible.
 * Returns the count.
 */
export const RETENTION = `
local all = redis.call('HGETALL', KEYS[1])
local removed = 0
for i = 1, #all, 2 do
  -- Over 15 digits the record counts hidden changes (PRESENCE): it holds a sticky INVISIBLE, kept.
  local v = #all[i + 1] <= 15 and tonumber(all[i + 1])
  if v and v % 32 == 0 and math.floor(v / 32) < tonumber(ARGV[1]) then
    redis.call('HDEL', KEYS[1], all[i])
    removed = removed + 1
  end
end
return removed
`;

/** A fixed-window counter. KEYS: the counter. ARGV: windowMs. Returns { count, ms left }. */
export const HIT = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`;

/**
 * presence(ids) on one Redis node in one call: the buckets of the requested ids that the node
 * holds, and the viewer's friend set when it is there too. Sending one HMGET per bucket costs the
 * API server the encoding of ~100 commands per request; this is one command per node.
 *
 * Redis Cluster refuses a command whose declared keys hash to different slots, even from a script
 * flagged `allow-cross-slot-keys`; the flag lets the script itself reach keys of other slots held
 * by the same node. So only the first key is declared (it routes the call to its node) and every
 * key is named in ARGV. The caller groups keys by node and falls back to plain HMGETs when a slot
 * is moving or Redis is older than 7 (engine/redis/index.ts readMany).
 *
 * KEYS: the first key of ARGV's list (routing only)
 * ARGV: friendship flag ('1': the last key is the viewer's friend set), number of keys, the keys,
 *       then per bucket its field count and its fields, then the ids whose friendship is asked
 * Returns: each bucket's HMGET reply in order, then the SMISMEMBER reply (with friendship).
 */
export const READ_MANY = `#!lua flags=no-writes,allow-cross-slot-keys
local friendship = ARGV[1] == '1'
local nkeys = tonumber(ARGV[2])
local buckets = nkeys
if friendship then buckets = nkeys - 1 end
local out, a = {}, 3 + nkeys
for i = 1, buckets do
  local n = tonumber(ARGV[a])
  out[i] = redis.call('HMGET', ARGV[2 + i], unpack(ARGV, a + 1, a + n))
  a = a + n + 1
end
if friendship then out[buckets + 1] = redis.call('SMISMEMBER', ARGV[2 + nkeys], unpack(ARGV, a, #ARGV)) end
return out
`;

/**
 * The settings of flagged users on one Redis node in one call (engine/redis/index.ts
 * readSettings): for each, its settings hash and whether it hides from the viewer. Like READ_MANY,
 * only the first key is declared (to route the call to its node) and every key is named in ARGV.
 *
 * KEYS: the first settings key of ARGV's list (routing only)
 * ARGV: the viewer's id ('' when none), then per user its settings key and its hidden-from key
 * Returns per user: { message text, emoji, expiry, lastActive ('N' or false), v, hidden (0|1) }.
 */
export const SETTINGS_MANY = `#!lua flags=no-writes,allow-cross-slot-keys
local viewer = ARGV[1]
local out = {}
for i = 2, #ARGV, 2 do
  local x = redis.call('HMGET', ARGV[i], 'mt', 'me', 'mx', 'p', 'v')
  local hidden = 0
  if viewer ~= '' then hidden = redis.call('SISMEMBER', ARGV[i + 1], viewer) end
  x[6] = hidden
  out[#out + 1] = x
end
return out
`;
