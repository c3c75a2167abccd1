--[[
  Claims the scan window of one image: at most one scan start per window, across processes.

  KEYS[1]  window key of the image
  ARGV[1]  owner (the scan id claiming it)
  ARGV[2]  window length in ms

  Returns {claimed, ttlMs, holder}
    claimed  1 when the window was free or is already held by this owner (a retry), else 0
    ttlMs    ms until the window opens again
    holder   who holds the window (owner, another scan id, or "cloud" for a scan the cloud ran)
]]
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, tonumber(ARGV[2]), ARGV[1]}
end
local ttl = redis.call('PTTL', KEYS[1])
if holder == ARGV[1] then
  return {1, ttl, holder}
end
return {0, ttl, holder}
