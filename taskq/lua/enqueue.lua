-- enqueue: record a new job and put it on the ready list or the scheduled set, or refuse a
-- duplicate id that is still pending.
-- KEYS[1] job hash      {q}:job:<id>
-- KEYS[2] history list  {q}:history:<id> (cleared when a done job's id is reused; the
--                       enqueue itself is told by the hash's enqueued_at, not written here)
-- KEYS[3] destination   {q}:ready (list) or {q}:scheduled (sorted set)
-- KEYS[4] notify list   {q}:notify:<id> (cleared: a reused id must not wake waiters early)
-- KEYS[5] high line {q}:ready:high   KEYS[6] low line {q}:ready:low (see place.lua)
-- ARGV[1] encoded payload   ARGV[2] "ready" | "scheduled"   ARGV[3] due time in ms (scheduled)
-- ARGV[4] this enqueue's token (its enqueued_at)   ARGV[5] task name   ARGV[6] queue name
-- The job hash gets payload, task, queue, enqueued_at (the token), status (queued or
-- scheduled) and, when scheduled, due: written here from the values, so that each job sends
-- no field names (enqueue_many runs this body once per job).
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- Returns 1 when enqueued, also when this very enqueue landed before (a retry after a lost
-- reply: the job may even have run since, and must not run again), or the status of
-- another pending job that holds this id.
local status = redis.call('HGET', KEYS[1], 'status')
if status then
  if redis.call('HGET', KEYS[1], 'enqueued_at') == ARGV[4] then
    return 1
  end
  if status ~= 'done' then
    return status
  end
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[4])
end
if ARGV[2] == 'scheduled' then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
  redis.call('HSET', KEYS[1], 'payload', ARGV[1], 'task', ARGV[5], 'queue', ARGV[6],
    'enqueued_at', ARGV[4], 'status', 'scheduled', 'due', ARGV[3])
  emit('scheduled', payload_id(ARGV[1]), 'task', ARGV[5])
  return 1
end
place({KEYS[3], KEYS[5], KEYS[6]}, {ARGV[1]})
redis.call('HSET', KEYS[1], 'payload', ARGV[1], 'task', ARGV[5], 'queue', ARGV[6],
  'enqueued_at', ARGV[4], 'status', 'queued')
emit('enqueued', payload_id(ARGV[1]), 'task', ARGV[5])
return 1
