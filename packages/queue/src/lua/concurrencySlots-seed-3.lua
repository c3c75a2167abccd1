--[[
  Rebuilds the slots' state from the ledger (Postgres: the account's open scans whose task exists
  at the cloud) after Redis lost it, and marks it known, in one step. Only the first rebuild
  counts: once the marker exists, acquires and releases have kept the state and a later (slower)
  rebuild's reading may be stale, so it changes nothing. Owners released since the state was lost
  are left out (their task is over even if the ledger has not caught up); a holder already back
  (a renewing poll, a start in flight) keeps the later lease.

  KEYS[1]  holders: sorted set, member = owner, score = lease expiry (ms)
  KEYS[2]  known: marker; set to the ms from which slots may be granted
  KEYS[3]  released: sorted set of owners released while the state was unknown
  ARGV[1]  lease in ms for each seeded holder (a running task's full lease)
  ARGV[2]  settle ms: grant nothing for this long (starts in flight take their slots back meanwhile)
  ARGV[3…] owners to seed

  Returns {rebuilt, seeded}
    rebuilt  1 when this call rebuilt the state, 0 when it was already known
    seeded   holders added or extended
]]
if redis.call('EXISTS', KEYS[2]) == 1 then return {0, 0} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local seeded = 0
for i = 3, #ARGV do
  local owner = ARGV[i]
  if not redis.call('ZSCORE', KEYS[3], owner) then
    local current = tonumber(redis.call('ZSCORE', KEYS[1], owner))
    if not current or current < now + lease then
      redis.call('ZADD', KEYS[1], now + lease, owner)
      seeded = seeded + 1
    end
  end
end
if seeded > 0 and redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
redis.call('SET', KEYS[2], now + tonumber(ARGV[2]))
redis.call('DEL', KEYS[3])
return {1, seeded}
