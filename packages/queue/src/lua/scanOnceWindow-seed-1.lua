--[[
  Records a scan the window did not see being claimed (scan-on-push, a scan found in Postgres
  after a Redis loss): the window stays closed until that scan's time + window.

  KEYS[1]  window key of the image
  ARGV[1]  holder to record (e.g. "cloud" or a scan id)
  ARGV[2]  ms until the window opens (already computed from the scan's time)

  Returns 1 when recorded, 0 when the key already holds a later expiry.
]]
local ttl = redis.call('PTTL', KEYS[1])
if ttl >= tonumber(ARGV[2]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
