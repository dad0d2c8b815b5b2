-- Sliding-window log, shared by the scripts that follow it (they are sent as one text).
-- Each window key is a sorted set of hits scored by their time; a hit counts while
-- now - time < period, so a 3-minute window counts exactly 3 minutes.
-- Windows are taken all or nothing: when any is full, no window records the hit; with
-- take false none records it either way (the counts are only looked at).
local function take_windows(first_key, first_arg, count_keys, now, token, take)
  local states = {}
  local allowed = 1
  for i = 0, count_keys - 1 do
    local key = KEYS[first_key + i]
    local amount = tonumber(ARGV[first_arg + 2 * i])
    local period = tonumber(ARGV[first_arg + 2 * i + 1])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
    local count = redis.call('ZCARD', key)
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2] or tostring(now)
    if count >= amount then allowed = 0 end
    states[#states + 1] = count
    states[#states + 1] = oldest
  end
  if allowed == 1 and take then
    for i = 0, count_keys - 1 do
      local key = KEYS[first_key + i]
      local period = tonumber(ARGV[first_arg + 2 * i + 1])
      redis.call('ZADD', key, now, token)
      redis.call('PEXPIRE', key, math.ceil(period * 1000))
    end
  end
  table.insert(states, 1, allowed)
  return states
end
