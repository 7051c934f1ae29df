-- retry: a job this worker holds failed (or asked to run again); schedule its next attempt.
-- Refused (returns 0, writes nothing) when the worker no longer holds this very delivery.
-- KEYS[1] active list {q}:active:<worker>   KEYS[2] job hash {q}:job:<id>
-- KEYS[3] history list {q}:history:<id>      KEYS[4] running hash {q}:running
-- KEYS[5] scheduled zset {q}:scheduled       KEYS[6] failed counter {q}:count:failed:<minute>
-- ARGV[1] encoded payload held   ARGV[2] next encoded payload   ARGV[3] job id
-- ARGV[4] due time in ms   ARGV[5] "1" to count a failure   ARGV[6] history entry
-- ARGV[7..] field, value pairs for the job hash
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- A payload that is not its record's own (the job hash holds other bytes: it reuses a live
-- job's id) is scheduled without touching that record.
-- Returns 1 when scheduled (with or without the record), 0 when fenced, -1 when a cancel
-- was requested (nothing written).
if redis.call('HEXISTS', KEYS[2], 'cancel') == 1
    and redis.call('HGET', KEYS[2], 'payload') == ARGV[1] then
  -- A cancel was requested while it ran: it is not retried nor dead; the worker ends it
  -- 'cancelled' with close.lua (which also checks that it still holds this delivery).
  return -1
end
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[2])
local own = redis.call('HGET', KEYS[2], 'payload')
if own and own ~= ARGV[1] then
  redis.call('HDEL', KEYS[4], ARGV[3])
  return 1
end
redis.call('HSET', KEYS[2], 'status', 'scheduled', 'payload', ARGV[2], 'due', ARGV[4],
  unpack(ARGV, 7))
redis.call('HDEL', KEYS[4], ARGV[3])
redis.call('RPUSH', KEYS[3], ARGV[6])
if ARGV[5] == '1' then
  if redis.call('INCR', KEYS[6]) == 1 then
    redis.call('EXPIRE', KEYS[6], 180)
  end
end
emit('retrying', ARGV[3], 'due', ARGV[4], 'detail', ARGV[6])
return 1
