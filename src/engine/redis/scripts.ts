import { MAX_HIDDEN_CHANGES, RecordLayout, Status, STICKY_BITS } from '../../domain/presence.js';

/**
 * Lua scripts, registered with ioredis defineCommand (EVALSHA with a transparent EVAL fallback, so
 * a Redis restart that empties the script cache costs one extra round trip, not an error).
 *
 * Numbers cross the Lua boundary as strings formatted with %d, because Lua 5.1 numbers are doubles
 * and Redis would otherwise print large ones in exponent form (losing digits).
 *
 * The scripts' constants are not written twice: statuses, the record's layout and the hidden-change
 * cap come from src/domain/presence.ts, and the names below from here, inserted when the script
 * text is built.
 */

/** A session value in a user's session hash: kind, the device's own status, owner or deadline. */
export const SessionValue = {
  /** A socket session: `w` .. status .. owner. */
  socket: 'w',
  /** A deadline session (an HTTP device, or a closed socket's grace): `d` .. status .. expiresAt. */
  deadline: 'd',
  /** Then, on a device that reported activity, this mark and its idle moment (ms, Redis clock). */
  idleMark: '|',
} as const;

/** The fields of a user's settings hash (keys.ts `x:`), and the value of lastActive NOBODY. */
export const SettingsField = { text: 'mt', emoji: 'me', expiresAt: 'mx', lastActive: 'p', offset: 'v' } as const;
export const NOBODY = 'N';

/** The arguments each PRESENCE operation reads by name, in the order the caller sends them. */
export const PRESENCE_OPS = {
  /** A socket connected; status: '' = the device's previous status, else ONLINE. */
  open: ['session', 'owner', 'status'],
  /** After a lost lease; only if absent, lingering, or still `previousOwner`'s. status: '' = unknown. */
  reopen: ['session', 'owner', 'previousOwner', 'status'],
  /** The socket closed: linger for graceMs, or end. */
  close: ['session', 'owner', 'graceMs'],
  /** The owner died: end at deadline (ms), now if past. */
  takeover: ['session', 'owner', 'deadline'],
  /** HTTP heartbeat; a no-op for a socket session. */
  beat: ['session', 'ttlMs'],
  /** setPresence. session: '' = every session; owner: '' = HTTP. */
  set: ['session', 'status', 'ttlMs', 'owner'],
  /** Re-evaluate deadlines. */
  expire: [],
  /** text: '' = clear; emoji: '' = none; expiresAt: ms, '' = none. */
  message: ['text', 'emoji', 'expiresAt'],
  /** lastActive: '' = unchanged, 'F' FRIENDS, 'N' NOBODY; then n, n ids to hide, m, m ids to unhide. */
  privacy: ['lastActive', 'maxHidden'],
  /**
   * reportActivity: the device is ONLINE until idleMs + idleSlack from now, and an HTTP device's
   * session lives ttlMs + ttlSlack; nothing is written while the stored moments are still a full
   * idleMs / ttlMs away (status-rule.ts activitySlackMs); creates the session like set.
   */
  activity: ['session', 'idleMs', 'idleSlack', 'ttlMs', 'ttlSlack', 'owner'],
} as const;
export type PresenceOp = keyof typeof PRESENCE_OPS;
/** The ARGV before an operation's own: op, field, userId, now, max sessions per user. */
export const PRESENCE_FIXED_ARGS = 5;

/** PRESENCE's first reply slot when it refused the operation (nothing was written). */
export const Refused = { sessionLimit: -1, hiddenLimit: -2 } as const;

/** The Redis server's clock in ms, for every script that needs it. */
const SERVER_NOW = `local function serverNowMs()
  local tm = redis.call('TIME')
  return tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
end`;

const lua = (v: string | number) => (typeof v === 'number' ? String(v) : `'${v}'`);
const luaMap = (o: Record<string | number, string | number>) =>
  `{${Object.entries(o)
    .map(([k, v]) => `[${/^\d+$/.test(k) ? k : lua(k)}] = ${lua(v)}`)
    .join(', ')}}`;
const luaOps = `{${Object.entries(PRESENCE_OPS)
  .map(([op, names]) => `${op} = {${names.map(lua).join(', ')}}`)
  .join(', ')}}`;
const stickyOfBits = Object.fromEntries(Object.entries(STICKY_BITS).map(([sticky, bits]) => [bits, Number(sticky)]));

/**
 * Every change to one user, in one atomic step. Mirrors src/engine/memory (same rules, same
 * contract suites, and test/contract/status-rule.test.ts): apply the operation to the user's
 * sessions, drop expired deadline sessions, derive the effective status (status-rule.ts
 * effectiveStatus), store the record (status-rule.ts nextState), and keep the shard's deadline
 * index and online counter exact. The caller routes the change to the instances of the user's
 * viewers (engine/redis/presence-runner.ts, change-router.ts).
 * All keys share the shard's hash tag, so this runs on one Cluster slot. Deadlines use the Redis
 * server clock (TIME), so API instances with skewed clocks agree on when a session expires.
 *
 * KEYS: bucket hash, the user's session hash, the shard's deadline zset, the shard's online counter,
 *       the user's settings hash, the user's hidden-from set
 * ARGV: op, field, userId, now (API ms, for lastActiveAt), max sessions per user, then the op's
 *       own arguments, read by name (PRESENCE_OPS).
 * A socket owner is one connection (`<instanceId>:<n>`), so two sockets of one device on one
 * instance never end each other's session.
 * Session values (SessionValue): on a device that reported activity the idle moment follows the
 * idle mark: from then on the device reads AWAY (automatic away). The evaluation writes an idle
 * ONLINE device back as AWAY and counts idle moments still ahead in the user's earliest deadline,
 * so the sweep turns it AWAY. Explicit ONLINE/AWAY choices (set, open with a status) drop the
 * suffix; every other op keeps it.
 * The record is laid out as presence.ts RecordLayout says: `h` counts the changes since `t` which
 * only the user sees; it is split off as decimal digits because the whole exceeds a double's 2^53.
 * The flagged mark ends the value of a user with settings (a message, lastActive, a version offset
 * `v`: the settings hash; or a hidden-from set): only such users cost a read of them. A message's
 * expiry counts among the user's deadlines.
 * Returns { scope (0 none, 1 the user alone, 2 everyone who may see them), status, t, sticky code,
 * h, previous status, v, flagged (0|1), nobody (0|1), message text, emoji, expiresAt ('' when
 * none), hides (0|1), then the ids whose hidden state changed, as '+id' or '-id' } (decoded once,
 * presence-runner.ts decodeReply), or { Refused.sessionLimit } when the op would create a session
 * beyond the user's maximum, or { Refused.hiddenLimit } when it would hide from more than the
 * maximum (nothing is written then).
 */
export const PRESENCE = `
local OFFLINE, ONLINE, AWAY, BUSY, INVISIBLE = ${Status.OFFLINE}, ${Status.ONLINE}, ${Status.AWAY}, ${Status.BUSY}, ${Status.INVISIBLE}
local STATUS_SPAN, T_SCALE = ${RecordLayout.statusSpan}, ${RecordLayout.tScale}
local HIDDEN_DIGITS, MAX_HIDDEN, FLAGGED = ${RecordLayout.hiddenDigits}, ${MAX_HIDDEN_CHANGES}, ${lua(RecordLayout.flagged)}
local STICKY_BITS, STICKY_OF_BITS = ${luaMap(STICKY_BITS)}, ${luaMap(stickyOfBits)}
local SOCKET, DEADLINE, IDLE_MARK = ${lua(SessionValue.socket)}, ${lua(SessionValue.deadline)}, ${lua(SessionValue.idleMark)}
local F_TEXT, F_EMOJI, F_EXPIRES = ${lua(SettingsField.text)}, ${lua(SettingsField.emoji)}, ${lua(SettingsField.expiresAt)}
local F_LAST_ACTIVE, F_OFFSET, NOBODY = ${lua(SettingsField.lastActive)}, ${lua(SettingsField.offset)}, ${lua(NOBODY)}
${SERVER_NOW}
local B, S, D, C, X, H = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local op, field, uid = ARGV[1], ARGV[2], ARGV[3]
local now = tonumber(ARGV[4])
local maxSessions = tonumber(ARGV[5])
-- The op's own arguments by name; privacy's two id lists follow them.
local OPS = ${luaOps}
local a, rest = {}, ${PRESENCE_FIXED_ARGS} + #OPS[op]
for i, name in ipairs(OPS[op]) do a[name] = ARGV[${PRESENCE_FIXED_ARGS} + i] end
local rnow = serverNowMs()

local raw = redis.call('HGET', B, field)
local prevStatus, prevSticky, prevT, prevH = OFFLINE, 0, 0, 0
local flagged = false
if raw and raw:sub(-#FLAGGED) == FLAGGED then
  flagged = true
  raw = raw:sub(1, -#FLAGGED - 1)
end
if raw then
  local v
  if #raw > HIDDEN_DIGITS then
    prevH = tonumber(raw:sub(1, -HIDDEN_DIGITS - 1))
    v = tonumber(raw:sub(-HIDDEN_DIGITS))
  else
    v = tonumber(raw)
  end
  prevStatus = v % STATUS_SPAN
  prevSticky = STICKY_OF_BITS[math.floor(v / STATUS_SPAN) % (T_SCALE / STATUS_SPAN)] or 0
  prevT = math.floor(v / T_SCALE)
end
local sticky = prevSticky

-- Settings (presence.ts Extras): read only for a flagged user.
local mt, me, mx, nobody, v = '', '', '', false, 0
if flagged then
  local x = redis.call('HMGET', X, F_TEXT, F_EMOJI, F_EXPIRES, F_LAST_ACTIVE, F_OFFSET)
  mt, me, mx, nobody, v = x[1] or '', x[2] or '', x[3] or '', x[4] == NOBODY, tonumber(x[5]) or 0
end
local prevMt, prevMe, prevMx, prevNobody = mt, me, mx, nobody
local hidChanged = {}

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
    local kind, st = get(a.session)
    put(a.session, SOCKET, tonumber(a.status) or st or ONLINE, a.owner, tonumber(a.status) and false)
  elseif op == 'reopen' then
    local kind, st, x = get(a.session)
    if not kind or kind == DEADLINE or x == a.previousOwner then put(a.session, SOCKET, st or tonumber(a.status) or ONLINE, a.owner) end
  elseif op == 'close' or op == 'takeover' then
    local kind, st, x = get(a.session)
    if kind == SOCKET and x == a.owner then
      local deadline = op == 'close' and rnow + tonumber(a.graceMs) or tonumber(a.deadline)
      if deadline > rnow then put(a.session, DEADLINE, st, string.format('%d', deadline)) else redis.call('HDEL', S, a.session) end
    end
  elseif op == 'beat' then
    local kind, st = get(a.session)
    if kind ~= SOCKET then put(a.session, DEADLINE, st or ONLINE, string.format('%d', rnow + tonumber(a.ttlMs))) end
  elseif op == 'set' then
    local sid, status = a.session, tonumber(a.status)
    if status == OFFLINE then
      if sid == '' then redis.call('DEL', S) else redis.call('HDEL', S, sid) end
    else
      local activity = nil
      if STICKY_BITS[status] then sticky = status else sticky = 0; activity = status end
      local kind, st, x = get(sid)
      local idle = activity and false -- a chosen ONLINE/AWAY ends automatic away until the next activity
      if kind == SOCKET then put(sid, SOCKET, activity or st, x, idle)
      elseif kind == DEADLINE or a.owner == '' then put(sid, DEADLINE, activity or st or ONLINE, string.format('%d', rnow + tonumber(a.ttlMs)), idle)
      else put(sid, SOCKET, activity or ONLINE, a.owner, idle) end
    end
  elseif op == 'message' then
    mt, me, mx = a.text, a.emoji, a.expiresAt
    if mt == '' then me, mx = '', '' end
  elseif op == 'privacy' then
    if a.lastActive ~= '' then nobody = a.lastActive == NOBODY end
    local n = rest + 1
    local hide = {unpack(ARGV, n + 1, n + tonumber(ARGV[n]))}
    n = n + tonumber(ARGV[n]) + 1
    local unhide = {unpack(ARGV, n + 1, n + tonumber(ARGV[n]))}
    local fresh = 0
    if #hide > 0 then
      local member = redis.call('SMISMEMBER', H, unpack(hide))
      for i = 1, #hide do if member[i] == 0 then fresh = fresh + 1 end end
    end
    if #unhide > 0 then
      local member = redis.call('SMISMEMBER', H, unpack(unhide))
      for i = 1, #unhide do if member[i] == 1 then fresh = fresh - 1 end end
    end
    if redis.call('SCARD', H) + fresh > tonumber(a.maxHidden) then error('hidden limit') end
    for i = 1, #unhide do
      if redis.call('SREM', H, unhide[i]) == 1 then table.insert(hidChanged, '-' .. unhide[i]) end
    end
    for i = 1, #hide do
      if redis.call('SADD', H, hide[i]) == 1 then table.insert(hidChanged, '+' .. hide[i]) end
    end
  elseif op == 'activity' then
    local sid, idleMs = a.session, tonumber(a.idleMs)
    local ttl = tonumber(a.ttlMs)
    local kind, st, x, idle = get(sid)
    local fresh = kind and st == ONLINE and idle and idle >= rnow + idleMs
    local at = string.format('%d', fresh and idle or rnow + idleMs + tonumber(a.idleSlack))
    if kind == SOCKET then
      if not fresh then put(sid, SOCKET, ONLINE, x, at) end
    elseif kind == DEADLINE or a.owner == '' then
      local alive = kind == DEADLINE and tonumber(x) >= rnow + ttl
      if not (fresh and alive) then put(sid, DEADLINE, ONLINE, string.format('%d', rnow + ttl + tonumber(a.ttlSlack)), at) end
    else put(sid, SOCKET, ONLINE, a.owner, at) end
  end
end)
if not ok then
  if string.find(tostring(err), 'session limit') then return {${Refused.sessionLimit}, 0, '0', 0, 0} end
  if string.find(tostring(err), 'hidden limit') then return {${Refused.hiddenLimit}, 0, '0', 0, 0} end
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
  if kind == DEADLINE and tonumber(x) <= rnow then
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
    if kind == DEADLINE and (not earliest or tonumber(x) < earliest) then earliest = tonumber(x) end
  end
end
if mx ~= '' and (not earliest or tonumber(mx) < earliest) then earliest = tonumber(mx) end
if earliest then redis.call('ZADD', D, earliest, uid) else redis.call('ZREM', D, uid) end

-- status-rule.ts effectiveStatus: a sticky status wins while present.
local status = OFFLINE
if present then
  if sticky ~= 0 then status = sticky elseif online then status = ONLINE else status = AWAY end
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
  return reply(0, '0', 0, OFFLINE)
end

-- status-rule.ts nextState: a visible status change moves t past every version anyone has read; a
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
  local fields = {F_OFFSET, string.format('%d', v)}
  if mt ~= '' then
    table.insert(fields, F_TEXT); table.insert(fields, mt)
    if me ~= '' then table.insert(fields, F_EMOJI); table.insert(fields, me) end
    if mx ~= '' then table.insert(fields, F_EXPIRES); table.insert(fields, mx) end
  end
  if nobody then table.insert(fields, F_LAST_ACTIVE); table.insert(fields, NOBODY) end
  redis.call('DEL', X)
  redis.call('HSET', X, unpack(fields))
  flagged = true
else
  if flagged then redis.call('DEL', X) end
  flagged = hides
end

local value = t * T_SCALE + (STICKY_BITS[sticky] or 0) * STATUS_SPAN + status
if h > 0 then value = string.format('%d%0' .. HIDDEN_DIGITS .. 'd', h, value) else value = string.format('%d', value) end
if flagged then value = value .. FLAGGED end
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
${SERVER_NOW}
local rnow = serverNowMs()
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
${SERVER_NOW}
local rnow = serverNowMs()
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
${SERVER_NOW}
local rnow = serverNowMs()
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
 * sticky BUSY or INVISIBLE is kept: forgetting it would bring an invisible user back visible. So is
 * a flagged one (settings, a hidden-from set): tonumber refuses its mark. Returns the count.
 */
export const RETENTION = `
local HIDDEN_DIGITS, T_SCALE, OFFLINE = ${RecordLayout.hiddenDigits}, ${RecordLayout.tScale}, ${Status.OFFLINE}
local all = redis.call('HGETALL', KEYS[1])
local removed = 0
for i = 1, #all, 2 do
  -- A record counting hidden changes (PRESENCE) is longer: it holds a sticky INVISIBLE, kept.
  local v = #all[i + 1] <= HIDDEN_DIGITS and tonumber(all[i + 1])
  -- Below t: OFFLINE without sticky bits.
  if v and v % T_SCALE == OFFLINE and math.floor(v / T_SCALE) < tonumber(ARGV[1]) then
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
 * is moving or Redis is older than 7 (engine/redis/presence-reads.ts readMany).
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
 * The settings of flagged users on one Redis node in one call (engine/redis/presence-reads.ts
 * readSettings): for each, its settings hash and whether it hides from the viewer. Like READ_MANY,
 * only the first key is declared (to route the call to its node) and every key is named in ARGV.
 *
 * KEYS: the first settings key of ARGV's list (routing only)
 * ARGV: the viewer's id ('' when none), then per user its settings key and its hidden-from key
 * Returns per user: { message text, emoji, expiry, lastActive (NOBODY or false), v, hidden (0|1) }.
 */
export const SETTINGS_MANY = `#!lua flags=no-writes,allow-cross-slot-keys
local viewer = ARGV[1]
local out = {}
for i = 2, #ARGV, 2 do
  local x = redis.call('HMGET', ARGV[i], ${[SettingsField.text, SettingsField.emoji, SettingsField.expiresAt, SettingsField.lastActive, SettingsField.offset].map(lua).join(', ')})
  local hidden = 0
  if viewer ~= '' then hidden = redis.call('SISMEMBER', ARGV[i + 1], viewer) end
  x[6] = hidden
  out[#out + 1] = x
end
return out
`;
