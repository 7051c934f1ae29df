-- link: tell a parent job that a dependent waits for it (so that whoever ends the parent
-- settles the dependent at once), and report how the parent stands now.
-- KEYS[1] parent's job hash {p}:job:<id>   KEYS[2] parent's dependents set {p}:dependents:<id>
-- ARGV[1] the dependent's ref "queue|id"
-- Returns {status, result}: the parent's status (or "missing" when it has no record) and its
-- result ('' when none); a parent that already ended must be settled by the caller.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  return {'missing', ''}
end
redis.call('HSET', KEYS[1], 'dependents', 1)
redis.call('SADD', KEYS[2], ARGV[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[2], ttl)
end
return {status, redis.call('HGET', KEYS[1], 'result') or ''}
