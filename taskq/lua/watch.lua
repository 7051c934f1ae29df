-- watch: a caller is about to wait for this job's end; mark the job so that its ack signals
-- the notify list, and return its status. Atomic with ack: either the ack sees the mark and
-- signals, or this sees the job already ended.
-- KEYS[1] job hash {q}:job:<id>
-- Returns the job hash as field, value, ... (empty when there is no such job).
if redis.call('HGET', KEYS[1], 'status') then
  redis.call('HSET', KEYS[1], 'waiters', 1)
end
return redis.call('HGETALL', KEYS[1])
