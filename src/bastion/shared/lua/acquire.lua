-- KEYS: window keys. ARGV: now, unique hit token, then amount and period of each window.
-- Returns {allowed, count_1, oldest_1, count_2, oldest_2, ...} (counts before this hit).
return take_windows(1, 3, #KEYS, tonumber(ARGV[1]), ARGV[2], true)
