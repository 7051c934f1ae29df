-- acquire: may this fetched job run now under its task's limits? Admits it (taking a
-- concurrency permit and/or a rate slot), or holds it back without failing it: by the
-- concurrency, parked in the limit's list until a permit is released (release.lua); by the
-- rate, scheduled at the next free slot, which is reserved for it.
-- KEYS[1] active list {q}:active:<worker>     KEYS[2] running hash {q}:running
-- KEYS[3] holders hash {q}:limit:<name>:holders   (job id -> worker: the permits)
-- KEYS[4] parked list {q}:limit:<name>:parked     KEYS[5] rate slot {q}:limit:<name>:tat
-- KEYS[6] scheduled zset {q}:scheduled            KEYS[7] job hash {q}:job:<id>
-- KEYS[8] limits hash {q}:limits                  (name -> concurrency, while jobs park)
-- ARGV[1] encoded payload   ARGV[2] job id   ARGV[3] worker id   ARGV[4] now (ms)
-- ARGV[5] concurrency (0: none)   ARGV[6] ms between starts (0: no rate)   ARGV[7] name
-- Events: `held` (by = concurrency | rate, limit, due) when it holds the job back.
-- Returns 1 admitted; 0 parked; {2, due ms} scheduled for its rate slot; -1 when this
-- worker does not hold the job (fenced: nothing written).
local now, maxc, interval = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])

local function take_back()
  if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return false end
  redis.call('HDEL', KEYS[2], ARGV[2])
  return true
end

if maxc > 0 and redis.call('HEXISTS', KEYS[3], ARGV[2]) == 0 then
  -- A permit is valid while its job runs; ended or recovered jobs give theirs back here.
  local live = 0
  for _, id in ipairs(redis.call('HKEYS', KEYS[3])) do
    if redis.call('HEXISTS', KEYS[2], id) == 1 then live = live + 1
    else redis.call('HDEL', KEYS[3], id) end
  end
  if live >= maxc then
    if not take_back() then return -1 end
    redis.call('LPUSH', KEYS[4], ARGV[1])
    redis.call('HSET', KEYS[8], ARGV[7], maxc)
    redis.call('HSET', KEYS[7], 'held', 'concurrency ' .. ARGV[7])
    emit('held', ARGV[2], 'by', 'concurrency', 'limit', ARGV[7])
    return 0
  end
end

if interval > 0 then
  if redis.call('HEXISTS', KEYS[7], 'rate_slot') == 1 then
    redis.call('HDEL', KEYS[7], 'rate_slot')  -- this job's reserved slot has come
  else
    local tat = math.max(tonumber(redis.call('GET', KEYS[5]) or '0'), now)
    redis.call('SET', KEYS[5], tat + interval, 'PX', tat + interval - now + 1000)
    if tat > now then
      if not take_back() then return -1 end
      redis.call('ZADD', KEYS[6], tat, ARGV[1])
      redis.call('HSET', KEYS[7], 'status', 'scheduled', 'due', tat, 'rate_slot', tat,
                 'held', 'rate ' .. ARGV[7])
      emit('held', ARGV[2], 'by', 'rate', 'limit', ARGV[7], 'due', tat)
      return {2, tat}
    end
  end
end

if maxc > 0 then
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
end
redis.call('HDEL', KEYS[7], 'held')
return 1
