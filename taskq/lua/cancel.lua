-- cancel: cancel one job, decided here once. A job waiting in ready or scheduled is removed
-- and ends 'cancelled'; a running one (or one just taken by a worker) gets the 'cancel' field
-- in its hash, which the task reads through current_job().cancelled and which the end
-- scripts (retry, dead, recover) obey: such a job ends 'cancelled', never retried or dead.
-- KEYS[1] job hash {q}:job:<id>   KEYS[2] ready list {q}:ready
-- KEYS[3] scheduled zset {q}:scheduled   KEYS[4] running hash {q}:running
-- KEYS[5] history list {q}:history:<id>   KEYS[6] notify list {q}:notify:<id>
-- KEYS[7] high line {q}:ready:high   KEYS[8] low line {q}:ready:low (priorities)
-- KEYS[9] waiting zset {q}:waiting (jobs waiting for their parents: depends_on)
-- KEYS[10] the parked list of the limit that holds the job back ({q}:limit:<name>:parked,
-- read by the caller from the hash's `held`; the ready list again when none)
-- ARGV[1] job id   ARGV[2] "soft" | "force" | "waiting" (only a waiting job; no flag)
-- ARGV[3] now in ms   ARGV[4] result TTL in seconds   ARGV[5] history entry
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- Returns "cancelled" (it was waiting), "requested" (running: flagged), "running" (mode
-- "waiting" and it runs), "missing", or the status of a job that already ended.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  return 'missing'
end
if status == 'done' or status == 'dead' or status == 'cancelled' or status == 'expired' then
  return status
end
local payload = redis.call('HGET', KEYS[1], 'payload')
local removed = 0
if status == 'waiting' then
  -- Waiting for its parents (its dependents learn of its end from the supervisors' sweep).
  removed = redis.call('ZREM', KEYS[9], ARGV[1])
elseif redis.call('HEXISTS', KEYS[4], ARGV[1]) == 0 then
  -- Not marked running: it waits in scheduled (also after its retry was scheduled) or in
  -- ready or its priority's line (a due job is promoted with its hash still saying
  -- 'scheduled'), or parked by a concurrency limit.
  removed = redis.call('ZREM', KEYS[3], payload)
  for _, k in ipairs({2, 7, 8, 10}) do
    if removed == 0 then
      removed = redis.call('LREM', KEYS[k], 1, payload)
    end
  end
end
if removed == 0 then
  -- Held by a worker (running, or moved by BLMOVE an instant before its claim).
  if ARGV[2] == 'waiting' then
    return 'running'
  end
  if redis.call('HGET', KEYS[1], 'cancel') ~= 'force' then
    redis.call('HSET', KEYS[1], 'cancel', ARGV[2])
  end
  emit('cancel-requested', ARGV[1], 'mode', ARGV[2])
  return 'requested'
end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'ended_at', ARGV[3], 'reason', 'cancelled')
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('RPUSH', KEYS[5], ARGV[5])
redis.call('EXPIRE', KEYS[5], ARGV[4])
redis.call('RPUSH', KEYS[6], 'cancelled')
redis.call('EXPIRE', KEYS[6], ARGV[4])
emit('cancelled', ARGV[1])
return 'cancelled'
