-- trim_dead: dead-letter retention. Delete the given dead jobs (the oldest past the count cap,
-- and those past the age cap, chosen by the caller) and everything kept about them.
-- KEYS[1] dead zset {q}:dead
-- KEYS[2], KEYS[3], KEYS[4] job hash, history list, notify list of job 1; then of job 2; ...
-- ARGV[1..N] the job ids, in the order of their keys
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- A job that left the dead set meanwhile (requeued, purged) is skipped, keys and all.
-- Returns the number of jobs deleted.
local gone = 0
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    redis.call('DEL', KEYS[i * 3 - 1], KEYS[i * 3], KEYS[i * 3 + 1])
    emit('purged', ARGV[i], 'detail', 'retention')
    gone = gone + 1
  end
end
return gone
