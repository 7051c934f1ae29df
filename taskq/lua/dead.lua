-- dead: a job this worker holds can never succeed; move it to the dead letters with the reason.
-- Refused (returns 0, writes nothing) when the worker no longer holds this very delivery.
-- A payload that is not its record's own (the job hash holds other bytes, or there is no
-- job hash: pushed by hand, or reusing a live job's id) is dead-lettered under the id derived
-- from its bytes (in the namespace reserved for them), never over another job's record.
-- KEYS[1] active list {q}:active:<worker>   KEYS[2] job hash {q}:job:<id>
-- KEYS[3] history list {q}:history:<id>      KEYS[4] running hash {q}:running
-- KEYS[5] dead zset {q}:dead                 KEYS[6] failed counter {q}:count:failed:<minute>
-- KEYS[7] notify list {q}:notify:<id>
-- KEYS[8], KEYS[9], KEYS[10] job hash, history, notify of the derived id
-- ARGV[1] encoded payload held   ARGV[2] job id   ARGV[3] time of death in ms
-- ARGV[4] history entry          ARGV[5] derived id   ARGV[6..] field, value pairs
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- Returns 1 when dead-lettered (under either id; 2: see the end), 0 when fenced, -1 when a
-- cancel was requested (nothing written).
if redis.call('HEXISTS', KEYS[2], 'cancel') == 1
    and redis.call('HGET', KEYS[2], 'payload') == ARGV[1] then
  -- A cancel was requested while it ran: it is not retried nor dead; the worker ends it
  -- 'cancelled' with close.lua (which also checks that it still holds this delivery).
  return -1
end
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
local job, history, notify, id = KEYS[2], KEYS[3], KEYS[7], ARGV[2]
if redis.call('HGET', job, 'payload') ~= ARGV[1] then
  job, history, notify, id = KEYS[8], KEYS[9], KEYS[10], ARGV[5]
end
redis.call('ZADD', KEYS[5], ARGV[3], id)
redis.call('HSET', job, 'status', 'dead', 'died_at', ARGV[3], unpack(ARGV, 6))
redis.call('PERSIST', job)
-- The running mark: under the id the claim used, and the one fetch.lua read from the bytes.
redis.call('HDEL', KEYS[4], ARGV[2])
local mark = payload_id(ARGV[1])
if mark ~= '?' and mark ~= ARGV[2] then
  redis.call('HDEL', KEYS[4], mark)
end
redis.call('RPUSH', history, ARGV[4])
redis.call('PERSIST', history)
if redis.call('INCR', KEYS[6]) == 1 then
  redis.call('EXPIRE', KEYS[6], 180)
end
redis.call('RPUSH', notify, 'dead')
emit('dead', id, 'detail', ARGV[4])
-- 2: the same, and the job has dependents waiting for it (link.lua marked it): the worker
-- settles them at once (taskq/workflows.py). Never for bytes that are not the job's own.
if redis.call('HEXISTS', job, 'dependents') == 1 then
  return 2
end
return 1
