-- bounce: this worker lacks the task of a job it holds. While a live worker on the queue knows
-- the task, or for a grace period after the last one did, the job goes back: to the scheduled
-- set, due after a short delay that grows with each bounce (no busy loop: a worker cannot take
-- it again at once; no starving: it waits outside the ready list). Counted in the job hash
-- (`bounces`), and once no live worker has known the task for the grace period, or it bounced
-- too often, the caller is told to dead-letter it (nothing moves here then).
-- Bytes that are not their job record's own (pushed by hand, reusing a live job's id) are
-- never handed back: the caller dead-letters them at once (dead.lua, under a derived id).
-- Refused (returns {0}, writes nothing) when the worker no longer holds this very delivery.
-- KEYS[1] active list {q}:active:<worker>   KEYS[2] job hash {q}:job:<id>
-- KEYS[3] running hash {q}:running          KEYS[4] scheduled zset {q}:scheduled
-- KEYS[5] known-tasks hash {q}:tasks
-- ARGV[1] encoded payload held   ARGV[2] job id   ARGV[3] task name
-- ARGV[4] now in ms (server clock, for leases)   ARGV[5] now in ms (local, for due times)
-- ARGV[6] grace in ms   ARGV[7] most bounces   ARGV[8] first delay in ms   ARGV[9] most delay
-- ARGV[10] jitter factor for this delay (e.g. 0.5 to 1.5, chosen by the caller: scripts'
-- random numbers repeat). Jitter matters: without it the bouncing worker, whose blocking
-- fetch restarts in step with the delay, would be first in line to take the job again.
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- Returns {1, delay ms, bounces} when bounced, {2, why, bounces} when the caller must
-- dead-letter it (why: 'unknown', 'bounces' or 'foreign'), {0} when fenced.
if redis.call('HGET', KEYS[2], 'payload') ~= ARGV[1] then
  return {2, 'foreign', 0}
end
local lease_now = tonumber(ARGV[4])
local known = redis.call('HGET', KEYS[5], ARGV[3])
local live = known and tonumber(known) >= lease_now
local since = redis.call('HGET', KEYS[2], 'unknown_since')
local bounces = tonumber(redis.call('HGET', KEYS[2], 'bounces') or '0')
if not live and since and lease_now - tonumber(since) >= tonumber(ARGV[6]) then
  return {2, 'unknown', bounces}
end
if not live and not since and tonumber(ARGV[6]) <= 0 then
  return {2, 'unknown', bounces}
end
if bounces >= tonumber(ARGV[7]) then
  return {2, 'bounces', bounces}
end
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return {0}
end
bounces = bounces + 1
local delay = math.min(tonumber(ARGV[8]) * 2 ^ math.min(bounces - 1, 30), tonumber(ARGV[9]))
delay = math.floor(delay * tonumber(ARGV[10]))
local due = tonumber(ARGV[5]) + delay
redis.call('ZADD', KEYS[4], due, ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[2])
redis.call('HSET', KEYS[2], 'status', 'scheduled', 'due', due, 'bounces', bounces)
if live then
  redis.call('HDEL', KEYS[2], 'unknown_since')
elseif not since then
  redis.call('HSET', KEYS[2], 'unknown_since', ARGV[4])
end
emit('scheduled', ARGV[2], 'task', ARGV[3], 'due', due, 'detail',
  'handed back: this worker lacks the task (bounce ' .. bounces .. ')')
return {1, delay, bounces}
