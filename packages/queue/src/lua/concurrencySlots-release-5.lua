--[[
  Gives `owner`'s slot back (the cloud reported its task finished), and names the waiters to
  wake: as many as there is room now, longest-waiting first. Named waiters leave the set, so
  the next release names the next ones (a woken waiter that still finds no room records itself
  again). Only the owner's own slot is released; releasing twice is harmless.
  While the state is unknown (no marker: Redis lost it, a rebuild may be reading the ledger right
  now) the release is remembered for `tombstoneMs`, so a rebuild that read the scan as still
  running does not seed its slot back.

  KEYS[1]  holders: sorted set, member = owner, score = lease expiry (ms)
  KEYS[2]  external: integer string, slots taken outside scanq
  KEYS[3]  waiters: sorted set, member = id to wake, score = expiry (ms)
  KEYS[4]  known: marker that the holders are the whole truth (see concurrencySlots-acquire-4.lua)
  KEYS[5]  released: sorted set, member = owner released while unknown, score = expiry (ms)
  ARGV[1]  owner
  ARGV[2]  limit
  ARGV[3]  tombstoneMs

  Returns {released, waiter1, waiter2, …}
    released  1 when `owner` held a slot, else 0
    waiterN   ids to wake (removed from the set)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local released = redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[4]) == 0 then
  local ttl = tonumber(ARGV[3])
  redis.call('ZADD', KEYS[5], now + ttl, ARGV[1])
  if redis.call('PTTL', KEYS[5]) < ttl then redis.call('PEXPIRE', KEYS[5], ttl) end
end
local external = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local free = tonumber(ARGV[2]) - external - redis.call('ZCARD', KEYS[1])
local out = {released}
if free > 0 then
  local waiters = redis.call('ZRANGE', KEYS[3], 0, free - 1)
  for _, w in ipairs(waiters) do
    out[#out + 1] = w
    redis.call('ZREM', KEYS[3], w)
  end
end
return out
