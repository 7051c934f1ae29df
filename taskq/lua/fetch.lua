-- fetch: move up to N jobs from ready to this worker's active list and mark them running.
-- Non-blocking; the worker blocks with BLMOVE only when this returns nothing.
-- KEYS[1] ready list  {q}:ready
-- KEYS[2] active list {q}:active:<worker>
-- KEYS[3] running hash {q}:running
-- KEYS[4] leases zset {q}:leases
-- ARGV[1] worker id   ARGV[2] N
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- Returns the encoded payloads moved (oldest first), or an error when the lease is lost
-- (judged on the server's clock: TIME).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = redis.call('ZSCORE', KEYS[4], ARGV[1])
if not expiry or tonumber(expiry) < now then
  return redis.error_reply('LEASELOST worker ' .. ARGV[1] .. ' holds no live lease')
end
-- RPOPLPUSH is LMOVE RIGHT LEFT, and also runs on servers older than 6.2.
local out = {}
local mark = ARGV[1] .. '|' .. now
for i = 1, tonumber(ARGV[2]) do
  local payload = redis.call('RPOPLPUSH', KEYS[1], KEYS[2])
  if not payload then break end
  out[#out + 1] = payload
  -- Payloads start with {"id":"..."; matching that is far cheaper than decoding them.
  local id = string.match(payload, '^{"id":"([^"\\]+)"')
  if id then
    redis.call('HSET', KEYS[3], id, mark)
  end
  emit('started', id or '?', 'worker', ARGV[1])
end
return out
