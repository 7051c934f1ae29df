-- ack: a job this worker holds finished; store its result and end it as done.
-- Refused (returns 0, writes nothing) when the worker no longer holds this very delivery.
-- KEYS[1] active list {q}:active:<worker>   KEYS[2] job hash {q}:job:<id>
-- KEYS[3] history list {q}:history:<id>      KEYS[4] running hash {q}:running
-- KEYS[5] done counter {q}:count:done:<minute>   KEYS[6] notify list {q}:notify:<id>
-- ARGV[1] encoded payload   ARGV[2] job id   ARGV[3] result TTL in seconds
-- ARGV[4..] field, value pairs for the job hash
-- The success is told by the hash (finished_at, worker), not written to the history, which
-- exists only for jobs with retries, crashes or requeues; it expires with the result.
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- A payload that is not its record's own (the job hash holds other bytes: it reuses a live
-- job's id) ends without touching that record (returns 1, no dependents).
-- Returns 1 when acknowledged (2: see the end), 0 when fenced.
-- Counted from the tail (-1): the active list takes jobs at its head, so the oldest, which end
-- first, sit at the tail; from the head LREM would pass every job fetched after this one.
if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then
  return 0
end
-- One read for what the rest needs: the record's own bytes, and whether anyone waits in
-- Job.result() (watch.lua marks the job) or any job depends on this one (link.lua).
local record = redis.call('HMGET', KEYS[2], 'payload', 'waiters', 'dependents')
local own = record[1]
if own and own ~= ARGV[1] then
  redis.call('HDEL', KEYS[4], ARGV[2])
  return 1
end
redis.call('HSET', KEYS[2], 'status', 'done', unpack(ARGV, 4))
redis.call('HDEL', KEYS[4], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[3])
if redis.call('INCR', KEYS[5]) == 1 then
  redis.call('EXPIRE', KEYS[5], 180)
end
if record[2] then
  -- Someone waits in Job.result(): wake them.
  redis.call('RPUSH', KEYS[6], 'done')
  redis.call('EXPIRE', KEYS[6], ARGV[3])
end
emit('succeeded', ARGV[2], 'worker', field_of(ARGV, 4, 'worker'))
-- 2: the same, and the job has dependents waiting for it (link.lua marked it): the worker
-- settles them at once (taskq/workflows.py).
if record[3] then
  return 2
end
return 1
