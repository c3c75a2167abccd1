--[[
  Reserves a departure time for one call under a sliding-window limit (Tencent TCSS: 20 calls
  per API per second), across every process. Time is Redis server time (TIME). Reservations are
  monotone and each one is at least `window` after the limit-th most recent, so any window of
  `window` ms holds at most `limit` of them:

    at = max(now, last reserved, limit-th most recent reservation + window)

  With window = the cloud's 1000 ms + a margin at least the spread of call latency (and the
  caller's lateness), the calls then reach the cloud at most `limit` in any 1000 ms.
  A reservation with a span (a cold client, whose call may take that much longer to arrive)
  occupies [at, at + span]: it is stored at its end, so later ones count from there.

  KEYS[1]  list of reservation ends (ms, ascending): every one still ahead or inside the last
           window, and at least the latest `limit`
  ARGV[1]  limit   reservations per window (>= 1)
  ARGV[2]  window  ms
  ARGV[3]  span    ms the call may arrive later than a warm one (0 for a warm client)
  ARGV[4]  lead    ms the reservation is at least ahead of now (0: may be now): time for the
                   caller to learn it is granted (replicas confirming it: WAIT) before it is due
  ARGV[5]  maxWait ms the caller can wait at most (a call with a hard end); absent or < 0: any

  Returns {atMs, waitMs, reserved}
    atMs     the departure time (Redis ms)
    waitMs   at − now: go now (0) or in that many ms
    reserved 1, or 0 when waitMs is beyond maxWait: nothing was reserved (the turn is that far off)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local span = tonumber(ARGV[3])
local lead = tonumber(ARGV[4] or '0')
local maxWait = tonumber(ARGV[5] or '-1')

-- Older than a window: can no longer constrain anyone (at >= now).
while redis.call('LLEN', KEYS[1]) > limit and tonumber(redis.call('LINDEX', KEYS[1], 0)) < now - window do
  redis.call('LPOP', KEYS[1])
end

local at = now + lead
local last = tonumber(redis.call('LINDEX', KEYS[1], -1))
if last and last > at then at = last end
if redis.call('LLEN', KEYS[1]) >= limit then
  local nth = tonumber(redis.call('LINDEX', KEYS[1], -limit))
  if nth + window > at then at = nth + window end
end

if maxWait >= 0 and at - now > maxWait then return {at, at - now, 0} end

redis.call('RPUSH', KEYS[1], at + span)
-- Once the latest end is a window old, nothing in the list constrains anyone.
redis.call('PEXPIRE', KEYS[1], at + span - now + window)
return {at, at - now, 1}
