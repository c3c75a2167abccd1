--[[
  Takes one of `limit` slots for `owner`, atomically across every process (Alibaba SAS: 10
  scan tasks in flight per account). Time is Redis server time, so worker clocks never matter.

  KEYS[1]  holders: sorted set, member = owner, score = lease expiry (ms)
  KEYS[2]  external: integer string with its own expiry, slots taken by tasks created outside
           scanq (the cloud said CanCreate false / BeyondQuata while scanq held fewer)
  KEYS[3]  waiters: sorted set, member = id to wake when a slot frees, score = expiry (ms)
  ARGV[1]  owner (e.g. the scan id)
  ARGV[2]  limit
  ARGV[3]  lease in ms
  ARGV[4]  waiter id to record when refused ('' for none)
  ARGV[5]  how long a waiter stays recorded without trying again, in ms

  Returns {granted, inUse, room, waitHintMs}
    granted     1 when `owner` holds a slot now (new, or already held: a retry renews it), else 0
    inUse       slots held after this call
    room        limit minus the external reduction
    waitHintMs  when refused: ms until the earliest lease or external reduction lapses, else 0
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)

local external = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local room = limit - external
if room < 0 then room = 0 end

if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], lease)
  if ARGV[4] ~= '' then redis.call('ZREM', KEYS[3], ARGV[4]) end
  return {1, redis.call('ZCARD', KEYS[1]), room, 0}
end

local inUse = redis.call('ZCARD', KEYS[1])
if inUse < room then
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
local hint = 0
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] then hint = tonumber(first[2]) - now end
if external > 0 then
  local extTtl = redis.call('PTTL', KEYS[2])
  if extTtl > 0 and (hint == 0 or extTtl < hint) then hint = extTtl end
end
return {0, inUse, room, hint}
