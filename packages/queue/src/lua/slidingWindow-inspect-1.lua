--[[
  Reads a sliding-window pacer without changing it (observability: GET /v1/quotas, metrics).

  KEYS[1]  list of reservation ends (ms, ascending; see slidingWindow-reserve-1.lua)
  ARGV[1]  ms counted back from now (the cloud's window: 1000)

  Returns {nowMs, recent, ahead}
    nowMs   Redis server time
    recent  reservations due in (now − ARGV[1], now], abandoned ones included
    ahead   reservations still to come (callers waiting for their time)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local since = now - tonumber(ARGV[1])
local recent, ahead = 0, 0
for _, v in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local at = tonumber(v)
  if at > now then ahead = ahead + 1 elseif at > since then recent = recent + 1 end
end
return {now, recent, ahead}
