--[[
  Records slots taken by tasks created outside scanq, for `holdMs` (the cloud said CanCreate
  false or BeyondQuata while scanq held fewer than the limit). A larger count, or the same
  count seen again, replaces the record and restarts its hold; a smaller one is kept only
  when `replace` is 1 (the cloud reported room again). A count of 0 with replace clears it.

  KEYS[1]  external: integer string with its own expiry
  ARGV[1]  count of slots taken outside scanq
  ARGV[2]  hold in ms
  ARGV[3]  replace: 1 to overwrite whatever is recorded, 0 to only raise it

  Returns the count in force after the call.
]]
local count = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if ARGV[3] ~= '1' and count < current then return current end
if count <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], count, 'PX', ARGV[2])
return count
