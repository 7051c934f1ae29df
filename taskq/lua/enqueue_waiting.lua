-- enqueue_waiting: record a new job that runs only once its parents are done (depends_on),
-- or refuse a duplicate id that is still pending. The job waits in no list a worker reads:
-- resolve.lua moves it to ready when its last parent is done, exactly once.
-- KEYS[1] job hash {q}:job:<id>   KEYS[2] history list {q}:history:<id>
-- KEYS[3] waiting zset {q}:waiting   KEYS[4] deps hash {q}:deps:<id>
-- KEYS[5] notify list {q}:notify:<id>
-- ARGV[1] encoded payload   ARGV[2] token (enqueued_at)   ARGV[3] first check time (ms)
-- ARGV[4] policy when a parent ends dead: "dead" | "run"   ARGV[5] number of parents N
-- ARGV[6 .. 5+N] parent refs "queue|id"   then field, value pairs for the job hash
-- Events: `waiting` (parents: N).
-- Returns 1 when recorded (also for a repeat of this very enqueue), or the status of another
-- pending job that holds this id.
local status = redis.call('HGET', KEYS[1], 'status')
if status then
  if redis.call('HGET', KEYS[1], 'enqueued_at') == ARGV[2] then
    return 1
  end
  if status ~= 'done' then
    return status
  end
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[5])
end
local n = tonumber(ARGV[5])
redis.call('DEL', KEYS[4])
for i = 6, 5 + n do
  redis.call('HSET', KEYS[4], 'p:' .. ARGV[i], 'pending')
end
redis.call('HSET', KEYS[4], 'pending', n, 'policy', ARGV[4])
redis.call('HSET', KEYS[1], 'payload', ARGV[1], 'status', 'waiting', unpack(ARGV, 6 + n))
redis.call('ZADD', KEYS[3], ARGV[3], payload_id(ARGV[1]))
emit('waiting', payload_id(ARGV[1]), 'parents', n)
return 1
