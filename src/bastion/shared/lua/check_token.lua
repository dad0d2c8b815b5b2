-- One round trip for an authenticated request: is the store seeded, is this token
-- revoked, the account's token version, the run-time settings' version, and the
-- caller's rate-limit windows.
-- KEYS: seeded marker, revoked:<jti>, tv:<user id>, cfgv, then window keys.
-- ARGV: now, unique hit token, then amount and period of each window.
-- Returns {seeded, revoked, token version or -1, settings version or 0, allowed,
-- count_1, oldest_1, ...}.
local seeded = redis.call('EXISTS', KEYS[1])
local revoked = redis.call('EXISTS', KEYS[2])
local version = tonumber(redis.call('GET', KEYS[3]) or '-1')
local settings = tonumber(redis.call('GET', KEYS[4]) or '0')
local windows = take_windows(5, 3, tonumber(ARGV[1]), ARGV[2])
local result = {seeded, revoked, version, settings}
for i = 1, #windows do result[#result + 1] = windows[i] end
return result
