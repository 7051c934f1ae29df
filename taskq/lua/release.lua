-- release: give back the permits of jobs that no longer run, and put as many parked jobs
-- as there are free permits at the front of ready (next to be fetched), oldest first.
-- Called by a worker after a limited job ends, and by supervisors once a second for every
-- limit with parked jobs (so permits of crashed workers come back once recovery ran).
-- KEYS[1] running hash {q}:running   KEYS[2] holders hash {q}:limit:<name>:holders
-- KEYS[3] parked list {q}:limit:<name>:parked   KEYS[4] ready list {q}:ready
-- KEYS[5] limits hash {q}:limits
-- ARGV[1] concurrency   ARGV[2] limit name
-- Events: `woken` (limit) for each parked job put back in ready.
-- Returns the number of parked jobs put back in ready.
local live = 0
for _, id in ipairs(redis.call('HKEYS', KEYS[2])) do
  if redis.call('HEXISTS', KEYS[1], id) == 1 then live = live + 1
  else redis.call('HDEL', KEYS[2], id) end
end
local woken = 0
for _ = 1, tonumber(ARGV[1]) - live do
  local raw = redis.call('RPOP', KEYS[3])
  if not raw then break end
  redis.call('RPUSH', KEYS[4], raw)  -- the right end: fetched next
  emit('woken', payload_id(raw), 'limit', ARGV[2])
  woken = woken + 1
end
if redis.call('LLEN', KEYS[3]) == 0 then
  redis.call('HDEL', KEYS[5], ARGV[2])
end
return woken
