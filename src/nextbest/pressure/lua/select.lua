-- Check every cap and back-off of the ranked candidates and record the contacts taken,
-- in one atomic step for one customer (all KEYS share the customer's hash tag).
--
-- KEYS: the customer's cap windows and back-off markers that the candidates refer to,
--       then the decision's cancellation marker (set by release.lua: when it is set, the
--       decision's answer has already been given up and nothing is recorded).
-- ARGV: now_ms, limit, record (1/0), contact_prefix,
--       the KEYS' suffixes joined by ";" (in KEYS order, so that candidates name keys),
--       the candidates in rank order, one per line: offer_id|caps|markers, where caps is
--       "suffix,limit,window_ms" joined by ";" and markers is suffixes joined by ";".
--       (Few arguments: the client packs each argument in Python, the script parses
--       strings cheaply; a candidate's line is built once per bundle.)
-- Windows are sorted sets: member = contact, score = the time it leaves the window.
-- Markers are strings holding the time they lapse. Times come from ARGV, never from the
-- Redis clock, so every replica and the tests agree on "now".
-- Returns: {taken offer ids..., "", blocked offer id, index of the blocking key, ...}.
--
-- Exploring (ARGV[7], picks joined by ","; absent when the channel does not explore):
-- slot s takes, among the candidates not yet taken that are allowed now (in rank order),
-- the first when picks[s] < 0, else the one at floor(picks[s] x their number). Blocked
-- are then the candidates not taken that are blocked after the last slot, and the reply
-- ends with "", then each cap key's index and its count before this call, so that the
-- caller can replay the selection for every other draw (the logged propensities).

local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local record = ARGV[3] == "1"
local prefix = ARGV[4]

local index_of = {}
local n_keys = 0
for suffix in string.gmatch(ARGV[5], "[^;]+") do
  n_keys = n_keys + 1
  index_of[suffix] = n_keys
end
if record and tonumber(redis.call("GET", KEYS[n_keys + 1]) or now) > now then
  record = false
end

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

local function parse(line)
  local offer, cap_list, marker_list = string.match(line, "^([^|]*)|([^|]*)|([^|]*)$")
  local caps = {}
  for suffix, cap, window in string.gmatch(cap_list, "([^,;]+),(%d+),(%d+)") do
    caps[#caps + 1] = { index_of[suffix], tonumber(cap), tonumber(window) }
  end
  local markers = {}
  for suffix in string.gmatch(marker_list, "[^;]+") do
    markers[#markers + 1] = index_of[suffix]
  end
  return { offer = offer, caps = caps, markers = markers }
end

local function blocking(candidate)
  for _, index in ipairs(candidate.markers) do
    if tonumber(redis.call("GET", KEYS[index]) or "0") > now then
      return index
    end
  end
  for _, c in ipairs(candidate.caps) do
    if window_count(c[1]) >= c[2] then
      return c[1]
    end
  end
  return nil
end

local function take(candidate)
  for _, c in ipairs(candidate.caps) do
    local index = c[1]
    counts[index] = window_count(index) + 1
    if record then
      local key = KEYS[index]
      redis.call("ZADD", key, now + c[3], prefix .. ":" .. candidate.offer)
      local last = redis.call("ZRANGE", key, -1, -1, "WITHSCORES")
      redis.call("PEXPIRE", key, tonumber(last[2]) - now)
    end
  end
end

if ARGV[7] ~= nil then
  local left = {}
  for line in string.gmatch(ARGV[6], "[^\n]+") do
    left[#left + 1] = parse(line)
  end
  local before, cap_keys = {}, {}
  for _, candidate in ipairs(left) do
    for _, c in ipairs(candidate.caps) do
      if before[c[1]] == nil then
        before[c[1]] = window_count(c[1])
        cap_keys[#cap_keys + 1] = c[1]
      end
    end
  end
  local taken = {}
  for pick in string.gmatch(ARGV[7], "[^,]+") do
    local allowed = {}
    for position, candidate in ipairs(left) do
      if blocking(candidate) == nil then
        allowed[#allowed + 1] = position
      end
    end
    if #allowed == 0 then
      break
    end
    local u = tonumber(pick)
    local choice = 1
    if u >= 0 then
      choice = math.min(math.floor(u * #allowed) + 1, #allowed)
    end
    local candidate = table.remove(left, allowed[choice])
    taken[#taken + 1] = candidate.offer
    take(candidate)
  end
  local reply = taken
  reply[#reply + 1] = ""
  for _, candidate in ipairs(left) do
    local reason = blocking(candidate)
    if reason ~= nil then
      reply[#reply + 1] = candidate.offer
      reply[#reply + 1] = reason
    end
  end
  reply[#reply + 1] = ""
  for _, index in ipairs(cap_keys) do
    reply[#reply + 1] = index
    reply[#reply + 1] = before[index]
  end
  return reply
end

local taken, blocked = {}, {}
for line in string.gmatch(ARGV[6], "[^\n]+") do
  if #taken >= limit then
    break
  end
  local offer, cap_list, marker_list = string.match(line, "^([^|]*)|([^|]*)|([^|]*)$")

  local reason = nil
  for suffix in string.gmatch(marker_list, "[^;]+") do
    local index = index_of[suffix]
    if tonumber(redis.call("GET", KEYS[index]) or "0") > now then
      reason = index
      break
    end
  end
  local caps = {}
  for suffix, cap, window in string.gmatch(cap_list, "([^,;]+),(%d+),(%d+)") do
    caps[#caps + 1] = { index_of[suffix], tonumber(cap), tonumber(window) }
  end
  if reason == nil then
    for _, c in ipairs(caps) do
      if window_count(c[1]) >= c[2] then
        reason = c[1]
        break
      end
    end
  end
  if reason == nil then
    taken[#taken + 1] = offer
    for _, c in ipairs(caps) do
      local index = c[1]
      counts[index] = window_count(index) + 1
      if record then
        local key = KEYS[index]
        redis.call("ZADD", key, now + c[3], prefix .. ":" .. offer)
        local last = redis.call("ZRANGE", key, -1, -1, "WITHSCORES")
        redis.call("PEXPIRE", key, tonumber(last[2]) - now)
      end
    end
  else
    blocked[#blocked + 1] = offer
    blocked[#blocked + 1] = reason
  end
end

local reply = taken
reply[#reply + 1] = ""
for _, value in ipairs(blocked) do
  reply[#reply + 1] = value
end
return reply
