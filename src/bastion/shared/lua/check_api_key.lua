-- One round trip for a request with an API key: is the store seeded, the key's
-- generation, its owner's token version, the run-time settings' version, the caller's
-- rate-limit windows and the route's own.
-- A key's generation is deleted whenever the key changes (revoked, re-scoped) and on
-- every seeding; a key without one gets a new, unique one here, so a generation never
-- comes back once it is gone, and a copy cached under it is never trusted again.
-- KEYS: seeded marker, akv:<key hash>, tv:<user id>, cfgv, then the caller's windows,
-- then the route's.
-- ARGV: now, unique hit token (also the new generation), the generation's lifetime in
-- milliseconds, the number of the caller's windows, then amount and period of each
-- window.
-- The route's windows count a hit only when the caller's passed.
-- Returns {seeded, generation, token version or -1, settings version or 0, allowed,
-- count_1, oldest_1, ..., then for the route's windows allowed, count_1, oldest_1, ...}.
local seeded = redis.call('EXISTS', KEYS[1])
local generation = redis.call('GET', KEYS[2])
if not generation then
  generation = ARGV[2]
  redis.call('SET', KEYS[2], generation, 'PX', ARGV[3])
end
local version = tonumber(redis.call('GET', KEYS[3]) or '-1')
local settings = tonumber(redis.call('GET', KEYS[4]) or '0')
local now = tonumber(ARGV[1])
local callers = tonumber(ARGV[4])
local windows = take_windows(5, 5, callers, now, ARGV[2], true)
local result = {seeded, generation, version, settings}
for i = 1, #windows do result[#result + 1] = windows[i] end
local routes = #KEYS - 4 - callers
if routes > 0 then
  local route = take_windows(5 + callers, 5 + 2 * callers, routes, now, ARGV[2], windows[1] == 1)
  for i = 1, #route do result[#result + 1] = route[i] end
end
return result
