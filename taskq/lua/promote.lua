-- promote: move scheduled jobs that are due onto the ready list, each exactly once.
-- KEYS[1] scheduled zset {q}:scheduled   KEYS[2] ready list {q}:ready
-- KEYS[3] high line {q}:ready:high   KEYS[4] low line {q}:ready:low (by priority: place.lua)
-- ARGV[1] now in ms   ARGV[2] at most this many per call
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- Returns {number moved, due time in ms of the next scheduled job or -1}.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, payload in ipairs(due) do
  redis.call('ZREM', KEYS[1], payload)
  place({KEYS[2], KEYS[3], KEYS[4]}, {payload})
  emit('promoted', payload_id(payload))
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if nxt[2] then
  return {#due, tonumber(nxt[2])}
end
return {#due, -1}
