-- fetch: move up to N jobs from ready to this worker's active list and mark them running.
-- Non-blocking; the worker blocks with BLMOVE only when this returns nothing.
-- KEYS[1] ready list  {q}:ready
-- KEYS[2] active list {q}:active:<worker>
-- KEYS[3] running hash {q}:running
-- KEYS[4] leases zset {q}:leases
-- KEYS[5] high line {q}:ready:high   KEYS[6] low line {q}:ready:low
-- Order: HIGH, then NORMAL, then LOW; first in, first out within each. A HIGH or LOW job at
-- the head of ready went there when its line was empty (place.lua), so it is older than its
-- line: a HIGH one is taken first; a LOW one with NORMAL jobs behind it joins the front of
-- the low line. Costs a LINDEX and one list move per job (plus one look at an empty high
-- line per call), no round trip.
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
-- A priority, when set, ends the payload ("priority":1}); a plain find near the end rules it
-- out before any pattern runs.
local function level(payload)
  if not string.find(payload, '"priority":', -16, true) then return 0 end
  return tonumber(string.match(payload, '"priority":(%-?%d+)}$') or '0')
end
-- A line found empty stays empty for the rest of this call (a script runs alone), so a
-- batch asks an empty high line once, not once per job.
local high_empty = false
local function take()
  local head = redis.call('LINDEX', KEYS[1], -1)
  if head and level(head) > 0 then
    return redis.call('RPOPLPUSH', KEYS[1], KEYS[2])
  end
  local payload
  if not high_empty then
    payload = redis.call('RPOPLPUSH', KEYS[5], KEYS[2])
    if payload then return payload end
    high_empty = true
  end
  if head and level(head) < 0 and redis.call('LLEN', KEYS[1]) > 1 then
    redis.call('RPUSH', KEYS[6], redis.call('RPOP', KEYS[1]))
  end
  if head then
    payload = redis.call('RPOPLPUSH', KEYS[1], KEYS[2])
    if payload then return payload end
  end
  return redis.call('RPOPLPUSH', KEYS[6], KEYS[2])
end
local out = {}
local mark = ARGV[1] .. '|' .. now
for i = 1, tonumber(ARGV[2]) do
  local payload = take()
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
