-- One round trip for an authenticated request: is the store seeded, is this token or its
-- session revoked, the account's token version, the session's last activity, the
-- run-time settings' version, the caller's rate-limit windows and the route's own.
-- KEYS: seeded marker, revoked:<jti>, revoked:<sid>, tv:<user id>, sa:<sid>, cfgv, then
-- the caller's windows, then the route's.
-- ARGV: now, unique hit token, resolution, stale after, activity TTL (ms), the number of
-- the caller's windows, then amount and period of each window.
-- The activity is written at most once a resolution (the reply says when: that caller
-- writes it to the database), never once it is stale (the caller ends the session), and
-- is written when absent (the caller reads the database's).
-- The route's windows count a hit only when the caller's passed and the token stands.
-- Returns {seeded, revoked, token version or -1, last activity or '-1', written,
-- settings version or 0, allowed, count_1, oldest_1, ..., then for the route's windows
-- allowed, count_1, oldest_1, ...}.
local now = tonumber(ARGV[1])
local seeded = redis.call('EXISTS', KEYS[1])
local revoked = redis.call('EXISTS', KEYS[2], KEYS[3])
if revoked > 1 then revoked = 1 end
local version = tonumber(redis.call('GET', KEYS[4]) or '-1')
local last = redis.call('GET', KEYS[5])
local settings = tonumber(redis.call('GET', KEYS[6]) or '0')
local written = 0
if revoked == 0 then
  local age = last and (now - tonumber(last)) or nil
  if age == nil or (age >= tonumber(ARGV[3]) and age <= tonumber(ARGV[4])) then
    redis.call('SET', KEYS[5], ARGV[1], 'PX', ARGV[5])
    written = 1
  end
end
local callers = tonumber(ARGV[6])
local windows = take_windows(7, 7, callers, now, ARGV[2], true)
local result = {seeded, revoked, version, last or '-1', written, settings}
for i = 1, #windows do result[#result + 1] = windows[i] end
local routes = #KEYS - 6 - callers
if routes > 0 then
  local take = windows[1] == 1 and revoked == 0
  local route = take_windows(7 + callers, 7 + 2 * callers, routes, now, ARGV[2], take)
  for i = 1, #route do result[#result + 1] = route[i] end
end
return result
