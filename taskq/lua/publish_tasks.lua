-- publish_tasks: a live worker says which tasks it can run on this queue, so that a worker
-- that lacks a task hands its jobs back instead of dead-lettering them.
-- Each field's value is the latest lease expiry (ms, server clock) of a worker that knows the
-- task: "a live worker knows T" is `known[T] >= now`, so an entry cannot count past the lease
-- that backs it. Fields whose expiry has passed are removed here, and the key expires
-- ARGV[3] ms after the last lease: so it holds at most the task names of the workers alive at
-- the last publish, and its highest value tells admin views when the queue's last worker left.
-- KEYS[1] known-tasks hash {q}:tasks
-- ARGV[1] this worker's lease expiry in ms   ARGV[2] now in ms (server clock)
-- ARGV[3] how long the key outlives the last lease, ms   ARGV[4..] task names
-- Returns the number of fields kept.
local expiry = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
for i = 4, #ARGV do
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if current < expiry then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[1])
  end
end
local all = redis.call('HGETALL', KEYS[1])
local latest = 0
for i = 1, #all, 2 do
  local value = tonumber(all[i + 1])
  if value < now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif value > latest then
    latest = value
  end
end
if latest > 0 then
  local ttl = latest - now + tonumber(ARGV[3])
  local current_ttl = redis.call('PTTL', KEYS[1])
  if current_ttl < ttl then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
end
return redis.call('HLEN', KEYS[1])
