-- Check every cap and back-off of the ranked candidates and record the contacts taken,
-- in one atomic step for one customer (all KEYS share the customer's hash tag).
--
-- KEYS: the customer's cap windows and back-off markers, in the order the candidates
--       refer to them (1-based indexes in ARGV).
-- ARGV: now_ms, limit, record (1/0), contact_prefix, candidate count, then per candidate:
--       offer_id, cap count, (key index, limit, window_ms) per cap,
--       marker count, key index per marker.
-- Windows are sorted sets: member = contact, score = the time it leaves the window.
-- Markers are strings holding the time they lapse. Times come from ARGV, never from the
-- Redis clock, so every replica and the tests agree on "now".
-- Returns: {taken offer ids..., "", blocked offer id, index of the blocking key, ...}.

local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local record = ARGV[3] == "1"
local prefix = ARGV[4]
local count = tonumber(ARGV[5])

local counts = {}
local function window_count(index)
  local n = counts[index]
  if n == nil then
    redis.call("ZREMRANGEBYSCORE", KEYS[index], "-inf", now)
    n = redis.call("ZCARD", KEYS[index])
    counts[index] = n
  end
  return n
end

local taken, blocked = {}, {}
local arg = 6
for _ = 1, count do
  local offer = ARGV[arg]
  local n_caps = tonumber(ARGV[arg + 1])
  local caps_at = arg + 2
  local n_markers = tonumber(ARGV[caps_at + 3 * n_caps])
  local markers_at = caps_at + 3 * n_caps + 1
  arg = markers_at + n_markers

  if #taken < limit then
    local reason = nil
    for m = 0, n_markers - 1 do
      local index = tonumber(ARGV[markers_at + m])
      if tonumber(redis.call("GET", KEYS[index]) or "0") > now then
        reason = index
        break
      end
    end
    if reason == nil then
      for c = 0, n_caps - 1 do
        local at = caps_at + 3 * c
        local index = tonumber(ARGV[at])
        if window_count(index) >= tonumber(ARGV[at + 1]) then
          reason = index
          break
        end
      end
    end
    if reason == nil then
      taken[#taken + 1] = offer
      for c = 0, n_caps - 1 do
        local at = caps_at + 3 * c
        local index = tonumber(ARGV[at])
        counts[index] = window_count(index) + 1
        if record then
          local key = KEYS[index]
          local leaves = now + tonumber(ARGV[at + 2])
          redis.call("ZADD", key, leaves, prefix .. ":" .. offer)
          local last = redis.call("ZRANGE", key, -1, -1, "WITHSCORES")
          redis.call("PEXPIRE", key, tonumber(last[2]) - now)
        end
      end
    else
      blocked[#blocked + 1] = offer
      blocked[#blocked + 1] = reason
    end
  end
end

local reply = taken
reply[#reply + 1] = ""
for _, value in ipairs(blocked) do
  reply[#reply + 1] = value
end
return reply
