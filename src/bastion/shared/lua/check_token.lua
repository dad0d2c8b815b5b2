-- One round trip for an authenticated request: is the store seeded, is this token or its
-- session revoked, the account's token version, the session's last activity, the
-- run-time settings' version, and the caller's rate-limit windows.
-- KEYS: seeded marker, revoked:<jti>, revoked:<sid>, tv:<user id>, sa:<sid>, cfgv, then
-- windows.
-- ARGV: now, unique hit token, resolution, stale after, activity TTL (ms), then amount and
-- period of each window.
-- The activity is written at most once a resolution (the reply says when: that caller
-- writes it to the database), never once it is stale (the caller ends the session), and
-- is written when absent (the caller reads the database's).
-- Returns {seeded, revoked, token version or -1, last activity or '-1', written,
-- settings version or 0, allowed, count_1, oldest_1, ...}.
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
local windows = take_windows(7, 6, now, ARGV[2])
local result = {seeded, revoked, version, last or '-1', written, settings}
for i = 1, #windows do result[#result + 1] = windows[i] end
return result
