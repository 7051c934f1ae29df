-- close: end a job this worker holds without running it to a result: 'expired' (not started
-- before its expiry) or 'cancelled' (a cancel was requested while it ran and it did not
-- succeed). Refused (returns 0, writes nothing) when the worker no longer holds this very
-- delivery.
-- KEYS[1] active list {q}:active:<worker>   KEYS[2] job hash {q}:job:<id>
-- KEYS[3] history list {q}:history:<id>      KEYS[4] running hash {q}:running
-- KEYS[5] notify list {q}:notify:<id>
-- ARGV[1] encoded payload held   ARGV[2] job id   ARGV[3] "expired" | "cancelled"
-- ARGV[4] now in ms   ARGV[5] result TTL in seconds   ARGV[6] history entry
-- ARGV[7..] field, value pairs for the job hash
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- Returns 1 when closed, 0 when fenced.
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[2], 'status', ARGV[3], 'ended_at', ARGV[4], 'reason', ARGV[3],
  unpack(ARGV, 7))
redis.call('HDEL', KEYS[4], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('RPUSH', KEYS[3], ARGV[6])
redis.call('EXPIRE', KEYS[3], ARGV[5])
redis.call('RPUSH', KEYS[5], ARGV[3])
redis.call('EXPIRE', KEYS[5], ARGV[5])
emit(ARGV[3], ARGV[2], 'worker', field_of(ARGV, 7, 'worker'))
return 1
