--[[
  What the slots look like now, for observability (GET /v1/quotas) and tests.

  KEYS[1]  holders: sorted set, member = owner, score = lease expiry (ms)
  KEYS[2]  external: integer string with its own expiry
  KEYS[3]  waiters: sorted set, member = id to wake, score = expiry (ms)

  Returns {now, external, externalTtlMs, holders[owner, expiry, …], waiters[id, expiry, …]}
  (expired entries are left out, not deleted: this script only reads).
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local external = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local externalTtl = 0
if external > 0 then externalTtl = redis.call('PTTL', KEYS[2]) end
local holders = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
local waiters = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. now, '+inf', 'WITHSCORES')
return {now, external, externalTtl, holders, waiters}
