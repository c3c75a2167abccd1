--[[
  Extends a lease, only while `token` holds it.

  KEYS[1]  lease key
  ARGV[1]  token
  ARGV[2]  time-to-live (ms)

  Returns 1 when extended, 0 when the lease is someone else's or gone.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
