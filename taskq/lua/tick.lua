-- tick: enqueue the job of one periodic schedule's tick, exactly once however many workers
-- call it: the schedule's last handled tick is compared and advanced in this one script, so
-- the first caller for a tick enqueues and every other finds it handled. It runs the body of
-- enqueue.lua, placed above this text by the loader as the function enqueue(KEYS, ARGV).
-- KEYS[1] schedules hash {q}:periodic   KEYS[2..] enqueue.lua's KEYS for the tick's job
-- ARGV[1] schedule name   ARGV[2] tick time in ms   ARGV[3] "1" when the caller is on time
-- (the tick is at most the misfire grace old)   ARGV[4] misfire policy "run-once" | "skip"
-- ARGV[5] the job id   ARGV[6] schedule spec (JSON, for `taskq periodic`)
-- ARGV[7..] enqueue.lua's ARGV
-- Fields of the schedules hash, per schedule: <name>|tick (last handled tick, ms),
-- <name>|job (id of the last job enqueued), <name>|spec, <name>|skipped (last skipped tick).
-- A late tick (a worker down over it) runs once with "run-once", never once per missed tick
-- (only the latest tick is ever offered); with "skip" it is recorded and not run. A schedule
-- seen for the first time runs only an on-time tick.
-- Returns 1 enqueued, 0 already handled, 2 skipped (late).
local last = redis.call('HGET', KEYS[1], ARGV[1] .. '|tick')
if last and tonumber(last) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1] .. '|tick', ARGV[2], ARGV[1] .. '|spec', ARGV[6])
if ARGV[3] ~= '1' and (ARGV[4] == 'skip' or not last) then
  redis.call('HSET', KEYS[1], ARGV[1] .. '|skipped', ARGV[2])
  return 2
end
enqueue({unpack(KEYS, 2)}, {unpack(ARGV, 7)})
redis.call('HSET', KEYS[1], ARGV[1] .. '|job', ARGV[5])
return 1
