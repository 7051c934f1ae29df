-- claim: after BLMOVE put a job into this worker's active list, mark it running; or, when
-- this worker holds no lease any more (presumed dead, its jobs already recovered), hand the
-- job back to the head of ready so that it is not stranded in a list nobody will recover.
-- KEYS[1] active list {q}:active:<worker>   KEYS[2] ready list {q}:ready
-- KEYS[3] running hash {q}:running          KEYS[4] leases zset {q}:leases
-- ARGV[1] worker id   ARGV[2] now in ms (server clock)   ARGV[3] encoded payload
-- ARGV[4] job id
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- Returns 1 when claimed, or an error LEASELOST after handing the job back.
local expiry = redis.call('ZSCORE', KEYS[4], ARGV[1])
if not expiry or tonumber(expiry) < tonumber(ARGV[2]) then
  if redis.call('LREM', KEYS[1], 1, ARGV[3]) == 1 then
    redis.call('RPUSH', KEYS[2], ARGV[3])
  end
  return redis.error_reply('LEASELOST worker ' .. ARGV[1] .. ' holds no live lease')
end
redis.call('HSET', KEYS[3], ARGV[4], ARGV[1] .. '|' .. ARGV[2])
emit('started', ARGV[4], 'worker', ARGV[1])
return 1
