--[[
  Reserves the next token of a second-aligned token bucket (Tencent: 20 calls per API per
  second). Tokens are minted per Redis-server second (TIME, so worker clocks never matter):
  at most ARGV[1] per second, none carried over, released ARGV[2] at a time on an even schedule
  through the second's open part [lead, 1000 - guard) ms. Nothing is released in the last
  guard ms, so a call made on time reaches the cloud inside the second it was counted in.
  A reservation is FIFO: each taker gets its own token, now or at a later release time.

  KEYS[1]  bucket key (hash: sec = second of the latest reservation, n = tokens reserved in it)
  ARGV[1]  ratePerSec  tokens per second (>= 1)
  ARGV[2]  burst       tokens released together (1 = evenly spaced)
  ARGV[3]  leadMs      first release this many ms after the second starts
  ARGV[4]  guardMs     no release in the last guardMs of a second (lead + guard < 1000)

  Returns {waitMs, deadlineMs, second, index}
    waitMs      0: go now; N: the token is reserved, go in N ms
    deadlineMs  ms from now until the token's second ends (the call must reach the cloud by then)
    second      the server second (unix seconds) the token belongs to
    index       1-based number of the token within that second (<= ratePerSec)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local lead = tonumber(ARGV[3])
local guard = tonumber(ARGV[4])
local steps = math.ceil(rate / burst)
local span = 1000 - lead - guard

local nowSec = math.floor(now / 1000)
local state = redis.call('HMGET', KEYS[1], 'sec', 'n')
local sec = tonumber(state[1])
local n = tonumber(state[2])
if not sec or sec < nowSec then
  sec = nowSec
  n = 0
end
if n >= rate then
  sec = sec + 1
  n = 0
end

local at = sec * 1000 + lead + math.floor(math.floor(n / burst) * span / steps)
if sec == nowSec then
  if now >= sec * 1000 + 1000 - guard then
    -- The open part of this second is over: the token comes from the next second.
    sec = sec + 1
    n = 0
    at = sec * 1000 + lead
  elseif at < now then
    -- Its release time has passed unused: go now.
    at = now
  end
end

redis.call('HSET', KEYS[1], 'sec', sec, 'n', n + 1)
redis.call('PEXPIREAT', KEYS[1], (sec + 2) * 1000)
return {at - now, (sec + 1) * 1000 - now, sec, n + 1}
