--[[
  Gives a window back, only if `owner` holds it (a start the cloud refused outright).

  KEYS[1]  window key of the image
  ARGV[1]  owner

  Returns 1 when released, 0 otherwise.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
