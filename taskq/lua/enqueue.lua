-- enqueue: record a new job and put it on the ready list or the scheduled set, or refuse a
-- duplicate id that is still pending.
-- KEYS[1] job hash      {q}:job:<id>
-- KEYS[2] history list  {q}:history:<id>
-- KEYS[3] destination   {q}:ready (list) or {q}:scheduled (sorted set)
-- ARGV[1] encoded payload   ARGV[2] "ready" | "scheduled"   ARGV[3] due time in ms (scheduled)
-- ARGV[4] history entry (JSON)   ARGV[5..] field, value pairs for the job hash
-- Returns 1 when enqueued, or the status of the pending job that already holds this id.
local status = redis.call('HGET', KEYS[1], 'status')
if status and status ~= 'done' then
  return status
end
redis.call('DEL', KEYS[1], KEYS[2])
if ARGV[2] == 'scheduled' then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
else
  redis.call('LPUSH', KEYS[3], ARGV[1])
end
redis.call('HSET', KEYS[1], 'payload', ARGV[1], unpack(ARGV, 5))
redis.call('RPUSH', KEYS[2], ARGV[4])
return 1
