-- KEYS[1]: tv:<user id>. ARGV[1]: a token version read from the database.
-- Versions only grow, so a slow reader can never put an older one back.
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
