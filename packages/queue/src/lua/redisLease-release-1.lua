--[[
  Gives a lease back, only if `token` holds it: never deletes a lease another process took
  after this one's lapsed.

  KEYS[1]  lease key
  ARGV[1]  token

  Returns 1 when released, 0 otherwise.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
