--[[
  Deletes a key only if `owner` holds it: a lease given back, a scan window a refused start
  returns. Never deletes what another process took after this one's lapsed.

  KEYS[1]  the key
  ARGV[1]  owner

  Returns 1 when deleted, 0 otherwise.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
