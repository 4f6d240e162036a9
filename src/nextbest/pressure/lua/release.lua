-- Take back the contacts one decision may have recorded, atomically for one customer
-- (all KEYS share its hash tag), whether its select ran before this script, runs after
-- it, or never runs: the decision is marked cancelled, so that a select.lua arriving
-- later records nothing, and every contact it could have recorded is removed.
-- Running it again changes nothing.
--
-- KEYS: the decision's cancellation marker, then the cap windows it may have written to.
-- ARGV: now_ms (the decision's time), how long the marker lives (ms; the longest of
--       those windows, after which a late select's contacts would have left their
--       windows anyway), then the contacts (`<decision id>:<offer id>`) to remove.
-- The marker holds the time it lapses, like a back-off. Returns the contacts removed.

local now, lifetime = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call("SET", KEYS[1], now + lifetime, "PX", lifetime)
local removed = 0
for k = 2, #KEYS do
  for a = 3, #ARGV do
    removed = removed + redis.call("ZREM", KEYS[k], ARGV[a])
  end
end
return removed
