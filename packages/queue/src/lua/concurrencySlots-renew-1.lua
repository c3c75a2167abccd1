--[[
  Extends `owner`'s lease (every poll of a live task; every few seconds while its task is being
  created). A lease that lapsed while the task still runs in the cloud is taken again even above
  the limit: the task counts against the cloud's quota whatever Redis remembers (a lapse, or a
  Redis loss), so scanq must count it too. Never shortens a lease.

  KEYS[1]  holders: sorted set, member = owner, score = lease expiry (ms)
  ARGV[1]  owner
  ARGV[2]  lease in ms

  Returns 1 when the lease was live and is extended, 0 when it had lapsed and was taken again.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local live = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
if not live or live < now + lease then redis.call('ZADD', KEYS[1], now + lease, ARGV[1]) end
if redis.call('PTTL', KEYS[1]) < lease then redis.call('PEXPIRE', KEYS[1], lease) end
if live then return 1 end
return 0
