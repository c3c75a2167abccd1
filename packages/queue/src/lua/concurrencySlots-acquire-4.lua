--[[
  Takes one of `limit` slots for `owner`, atomically across every process (Alibaba SAS: 10
  scan tasks in flight per account). Time is Redis server time, so worker clocks never matter.
  Grants nothing while the slots' state is unknown (the marker is missing: a new account, or
  Redis lost its data while tasks may still run at the cloud): the caller rebuilds it from the
  ledger first (concurrencySlots-seed-3.lua), and after a rebuild grants nothing before the
  marker's time (room for starts in flight to take their slots back).

  KEYS[1]  holders: sorted set, member = owner, score = lease expiry (ms)
  KEYS[2]  external: integer string with its own expiry, slots taken by tasks created outside
           scanq (the cloud said CanCreate false / BeyondQuata while scanq held fewer)
  KEYS[3]  waiters: sorted set, member = id to wake when a slot frees, score = expiry (ms)
  KEYS[4]  known: marker that the holders are the whole truth; value = ms from which slots may be granted
  ARGV[1]  owner (e.g. the scan id)
  ARGV[2]  limit
  ARGV[3]  lease in ms (a holder's retry keeps the later of its lease and this one)
  ARGV[4]  waiter id to record when refused ('' for none)
  ARGV[5]  how long a waiter stays recorded without trying again, in ms

  Returns {granted, inUse, room, waitHintMs}
    granted     1 when `owner` holds a slot now (new, or already held: a retry renews it),
                0 when refused, -1 when the state must be rebuilt first (nothing recorded)
    inUse       slots held after this call
    room        limit minus the external reduction
    waitHintMs  when refused: ms until the earliest lease or external reduction lapses, or until
                slots may be granted after a rebuild, else 0
]]
local known = redis.call('GET', KEYS[4])
if not known then return {-1, 0, 0, 0} end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)

local external = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local room = limit - external
if room < 0 then room = 0 end

local held = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
if held then
  if held < now + lease then redis.call('ZADD', KEYS[1], now + lease, ARGV[1]) end
  if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
  if ARGV[4] ~= '' then redis.call('ZREM', KEYS[3], ARGV[4]) end
  return {1, redis.call('ZCARD', KEYS[1]), room, 0}
end

local inUse = redis.call('ZCARD', KEYS[1])
local grantFrom = tonumber(known) or 0
if inUse < room and now >= grantFrom then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
  -- The set outlives its longest lease only while somebody renews.
  if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
  if ARGV[4] ~= '' then redis.call('ZREM', KEYS[3], ARGV[4]) end
  return {1, inUse + 1, room, 0}
end

if ARGV[4] ~= '' then
  local ttl = tonumber(ARGV[5])
  redis.call('ZADD', KEYS[3], now + ttl, ARGV[4])
  if redis.call('PTTL', KEYS[3]) < ttl then redis.call('PEXPIRE', KEYS[3], ttl) end
end
if inUse < room then
  -- Only the rebuild's settling time stands in the way.
  return {0, inUse, room, grantFrom - now}
end
local hint = 0
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] then hint = tonumber(first[2]) - now end
if external > 0 then
  local extTtl = redis.call('PTTL', KEYS[2])
  if extTtl > 0 and (hint == 0 or extTtl < hint) then hint = extTtl end
end
return {0, inUse, room, hint}
