-- Apply one feedback event once, atomically for one customer (all KEYS share its hash tag).
--
-- KEYS: the event's idempotency key, then the windows to release the contact from, then
--       the back-off markers to set, then per decline counter its sorted set and the
--       pause marker it sets.
-- ARGV: now_ms, dedupe_ms, contact, idempotency key, release count, marker count,
--       lifetime_ms per marker, counter count, (window_ms, threshold, pause_ms) per counter.
-- Times come from ARGV, never from the Redis clock; every key gets a TTL so that state
-- expires by itself. Returns 1 when applied, 0 when the event was seen before.

local now = tonumber(ARGV[1])
local dedupe_ms = tonumber(ARGV[2])
local contact = ARGV[3]
local event = ARGV[4]

local seen = redis.call("GET", KEYS[1])
if seen and tonumber(seen) > now then
  return 0
end
redis.call("SET", KEYS[1], now + dedupe_ms, "PX", dedupe_ms)

local function set_marker(key, lifetime)
  local lapses = math.max(tonumber(redis.call("GET", key) or "0"), now + lifetime)
  redis.call("SET", key, lapses, "PX", lapses - now)
end

local key = 2
local n_release = tonumber(ARGV[5])
for _ = 1, n_release do
  redis.call("ZREM", KEYS[key], contact)
  key = key + 1
end

local n_markers = tonumber(ARGV[6])
local arg = 7
for _ = 1, n_markers do
  set_marker(KEYS[key], tonumber(ARGV[arg]))
  key = key + 1
  arg = arg + 1
end

local n_counters = tonumber(ARGV[arg])
arg = arg + 1
for _ = 1, n_counters do
  local counter, pause = KEYS[key], KEYS[key + 1]
  local window_ms, threshold = tonumber(ARGV[arg]), tonumber(ARGV[arg + 1])
  local pause_ms = tonumber(ARGV[arg + 2])
  redis.call("ZREMRANGEBYSCORE", counter, "-inf", now)
  redis.call("ZADD", counter, now + window_ms, event)
  if redis.call("ZCARD", counter) >= threshold then
    redis.call("SET", pause, now + pause_ms, "PX", pause_ms)
    redis.call("DEL", counter)
  else
    local last = redis.call("ZRANGE", counter, -1, -1, "WITHSCORES")
    redis.call("PEXPIRE", counter, tonumber(last[2]) - now)
  end
  key = key + 2
  arg = arg + 3
end
return 1
