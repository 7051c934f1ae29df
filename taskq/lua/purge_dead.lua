-- purge_dead: delete one dead job and everything kept about it.
-- KEYS[1] dead zset {q}:dead   KEYS[2] job hash {q}:job:<id>
-- KEYS[3] history list {q}:history:<id>   KEYS[4] notify list {q}:notify:<id>
-- ARGV[1] job id
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- Returns 1 when purged, 0 when the job was no longer dead.
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
emit('purged', ARGV[1])
return 1
