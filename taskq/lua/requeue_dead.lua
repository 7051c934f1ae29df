-- requeue_dead: move one dead job back to the tail of the ready list, attempts reset.
-- KEYS[1] dead zset {q}:dead   KEYS[2] ready list {q}:ready
-- KEYS[3] job hash {q}:job:<id>   KEYS[4] history list {q}:history:<id>
-- KEYS[5] notify list {q}:notify:<id> (cleared: it holds the old 'dead' wake-up)
-- ARGV[1] job id   ARGV[2] next encoded payload   ARGV[3] history entry
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- Returns 1 when moved, 0 when the job was no longer dead.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[5])
redis.call('HSET', KEYS[3], 'status', 'queued', 'payload', ARGV[2])
redis.call('HDEL', KEYS[3], 'died_at')
redis.call('RPUSH', KEYS[4], ARGV[3])
emit('requeued', ARGV[1], 'detail', ARGV[3])
return 1
