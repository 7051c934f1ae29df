-- claim: after BLMOVE put a job into this worker's active list, confirm that this worker
-- still holds a live lease and mark the job running; the worker starts the job only after
-- this reply. When the lease is gone or expired (presumed dead, its jobs maybe recovered
-- already), hand the job back to the head of ready so that it is not stranded in a list
-- nobody will recover, and refuse.
-- KEYS[1] active list {q}:active:<worker>   KEYS[2] ready list {q}:ready
-- KEYS[3] running hash {q}:running          KEYS[4] leases zset {q}:leases
-- ARGV[1] worker id   ARGV[2] encoded payload   ARGV[3] job id
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- Returns 1 when claimed, or an error LEASELOST after handing the job back. Time is the
-- server's (TIME). (Only recovery takes a job out of a live worker's list, and only after
-- its lease expired, so a claim that finds a live lease finds its job in place.)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = redis.call('ZSCORE', KEYS[4], ARGV[1])
if not expiry or tonumber(expiry) < now then
  if redis.call('LREM', KEYS[1], 1, ARGV[2]) == 1 then
    redis.call('RPUSH', KEYS[2], ARGV[2])
  end
  return redis.error_reply('LEASELOST worker ' .. ARGV[1] .. ' holds no live lease')
end
redis.call('HSET', KEYS[3], ARGV[3], ARGV[1] .. '|' .. now)
emit('started', ARGV[3], 'worker', ARGV[1])
return 1
