-- resolve: one parent of a waiting job ended. Records it once (repeats change nothing), and
-- when it was the last one pending moves the job to ready, exactly once; when it ended dead
-- (and the policy is "dead") ends the waiting job dead with reason "parent failed".
-- KEYS[1] job hash {q}:job:<id>   KEYS[2] deps hash {q}:deps:<id>
-- KEYS[3] waiting zset {q}:waiting   KEYS[4] ready list {q}:ready   KEYS[5] dead zset {q}:dead
-- KEYS[6] notify list {q}:notify:<id>   KEYS[7] history list {q}:history:<id>
-- ARGV[1] parent ref "queue|id"   ARGV[2] parent's end: "done" | "dead" | "missing"
-- ARGV[3] parent's result (JSON, or '')   ARGV[4] now (ms)   ARGV[5] history entry for death
-- ARGV[6] result TTL (s)   ARGV[7] the waiting job's id
-- Events: `released` when the job goes to ready; `dead` when a parent's failure ends it.
-- Returns 0 nothing to do (not waiting on this parent, or already resolved); 1 still
-- waiting; 2 released to ready; 3 ended dead (its own dependents must be settled).
local id = ARGV[7]
if redis.call('HGET', KEYS[2], 'p:' .. ARGV[1]) ~= 'pending' then
  return 0
end
if redis.call('HGET', KEYS[1], 'status') ~= 'waiting' then
  return 0
end
local ended = ARGV[2] == 'done' and 'done' or 'dead'
redis.call('HSET', KEYS[2], 'p:' .. ARGV[1], ended)
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], 'r:' .. ARGV[1], ARGV[3])
end
local pending = redis.call('HINCRBY', KEYS[2], 'pending', -1)
if ended == 'dead' and redis.call('HGET', KEYS[2], 'policy') ~= 'run' then
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZADD', KEYS[5], ARGV[4], id)
  redis.call('HSET', KEYS[1], 'status', 'dead', 'died_at', ARGV[4], 'reason', 'parent failed',
             'error', 'parent ' .. ARGV[1] .. ' ended ' .. ARGV[2])
  redis.call('RPUSH', KEYS[7], ARGV[5])
  redis.call('RPUSH', KEYS[6], 'dead')
  redis.call('EXPIRE', KEYS[6], ARGV[6])
  emit('dead', id, 'detail', ARGV[5])
  return 3
end
if pending > 0 then
  return 1
end
redis.call('ZREM', KEYS[3], id)
redis.call('RPUSH', KEYS[4], redis.call('HGET', KEYS[1], 'payload'))
redis.call('HSET', KEYS[1], 'status', 'queued')
emit('released', id)
return 2
