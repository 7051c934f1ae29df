-- prune_departed: forget departed workers whose active list is empty and whose last failed
-- guard is older than the horizon (no BLMOVE of theirs can still land a job).
-- KEYS[1] departed zset {q}:departed   KEYS[2..] active lists {q}:active:<worker>, one per id
-- ARGV[1] horizon in ms   ARGV[2..] worker ids, in the order of KEYS[2..]
-- Returns the number of ids forgotten.
local t = redis.call('TIME')
local cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[1])
local gone = 0
for i = 2, #KEYS do
  local since = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if since and tonumber(since) < cutoff and redis.call('LLEN', KEYS[i]) == 0 then
    redis.call('ZREM', KEYS[1], ARGV[i])
    gone = gone + 1
  end
end
return gone
