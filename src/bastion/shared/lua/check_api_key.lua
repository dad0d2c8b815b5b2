-- One round trip for a request with an API key: is the store seeded, the key's
-- generation, its owner's token version, the run-time settings' version, and the
-- caller's rate-limit windows.
-- A key's generation is deleted whenever the key changes (revoked, re-scoped) and on
-- every seeding; a key without one gets a new, unique one here, so a generation never
-- comes back once it is gone, and a copy cached under it is never trusted again.
-- KEYS: seeded marker, akv:<key hash>, tv:<user id>, cfgv, then window keys.
-- ARGV: now, unique hit token (also the new generation), the generation's lifetime in
-- milliseconds, then amount and period of each window.
-- Returns {seeded, generation, token version or -1, settings version or 0, allowed,
-- count_1, oldest_1, ...}.
local seeded = redis.call('EXISTS', KEYS[1])
local generation = redis.call('GET', KEYS[2])
if not generation then
  generation = ARGV[2]
  redis.call('SET', KEYS[2], generation, 'PX', ARGV[3])
end
local version = tonumber(redis.call('GET', KEYS[3]) or '-1')
local settings = tonumber(redis.call('GET', KEYS[4]) or '0')
local windows = take_windows(5, 4, tonumber(ARGV[1]), ARGV[2])
local result = {seeded, generation, version, settings}
for i = 1, #windows do result[#result + 1] = windows[i] end
return result
