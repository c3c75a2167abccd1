--[[
  Reads a second-aligned token bucket without changing it (observability).

  KEYS[1]  bucket key (hash: sec, n — see tokenBucket-take-1.lua)

  Returns {nowMs, second, reserved}
    nowMs     Redis server time in ms
    second    server second of the latest reservation (-1 when the bucket is idle)
    reserved  tokens reserved in that second (0 when idle)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'sec', 'n')
local sec = tonumber(state[1])
if not sec then
  return {now, -1, 0}
end
return {now, sec, tonumber(state[2]) or 0}
