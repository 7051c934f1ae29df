-- dead: a job this worker holds can never succeed; move it to the dead letters with the reason.
-- Refused (returns 0, writes nothing) when the worker no longer holds this very delivery.
-- KEYS[1] active list {q}:active:<worker>   KEYS[2] job hash {q}:job:<id>
-- KEYS[3] history list {q}:history:<id>      KEYS[4] running hash {q}:running
-- KEYS[5] dead zset {q}:dead                 KEYS[6] failed counter {q}:count:failed:<minute>
-- KEYS[7] notify list {q}:notify:<id>
-- ARGV[1] encoded payload held   ARGV[2] job id   ARGV[3] time of death in ms
-- ARGV[4] history entry          ARGV[5..] field, value pairs for the job hash
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- Returns 1 when dead-lettered (2: see the end), 0 when fenced.
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[2], 'status', 'dead', 'died_at', ARGV[3], unpack(ARGV, 5))
redis.call('PERSIST', KEYS[2])
redis.call('HDEL', KEYS[4], ARGV[2])
redis.call('RPUSH', KEYS[3], ARGV[4])
redis.call('PERSIST', KEYS[3])
if redis.call('INCR', KEYS[6]) == 1 then
  redis.call('EXPIRE', KEYS[6], 180)
end
redis.call('RPUSH', KEYS[7], 'dead')
emit('dead', ARGV[2], 'detail', ARGV[4])
-- 2: the same, and the job has dependents waiting for it (link.lua marked it): the worker
-- settles them at once (taskq/workflows.py).
if redis.call('HEXISTS', KEYS[2], 'dependents') == 1 then
  return 2
end
return 1
