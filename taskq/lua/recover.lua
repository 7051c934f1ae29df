-- recover: take back the jobs a worker holds (it died, timed out, lost its lease, or is
-- shutting down) and send each to ready (head of the line), scheduled, or dead.
-- Each job moves only if it is still in the worker's active list, so running this twice, or
-- racing another recoverer, moves every job once.
-- KEYS[1] leases zset {q}:leases    KEYS[2] active list {q}:active:<worker>
-- KEYS[3] ready list {q}:ready      KEYS[4] scheduled zset {q}:scheduled
-- KEYS[5] dead zset {q}:dead        KEYS[6] running hash {q}:running
-- KEYS[7] failed counter {q}:count:failed:<minute> (a job that dies here counts, as in dead)
-- KEYS[8], KEYS[9], KEYS[10] job hash, history list, notify list of job 1; then of job 2; ...
-- ARGV[1] worker id   ARGV[2] unused   ARGV[3] "1": only if the lease has expired (on the
-- server's clock: TIME)
-- ARGV[4] "1": drop the worker's lease (only once it holds nothing)   ARGV[5] number of jobs N
-- then per job, 7 values: held payload, next payload, job id, destination
-- ("ready" | "scheduled" | "dead"), score (due or death time, ms), history entry,
-- hash fields as a JSON object
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- ARGV[6 + 7N] result TTL in seconds (for jobs ending 'cancelled')
-- A job whose hash carries a 'cancel' request (cancel.lua) ends 'cancelled' whatever the
-- plan said: never requeued, retried or dead (a force cancel kills the child, then this).
-- Returns {moved, left}: the number of jobs moved and of jobs still held (taken after the
-- caller read the list; the lease is then kept, so the caller or a later scan retries);
-- {-1, 0} when the lease is still alive.
if ARGV[3] == '1' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if expiry and tonumber(expiry) > now then
    return {-1, 0}
  end
end
local moved = 0
for i = 0, tonumber(ARGV[5]) - 1 do
  local a = 6 + i * 7
  local held, nxt, id, dest = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local job, history = KEYS[8 + i * 3], KEYS[9 + i * 3]
  if redis.call('LREM', KEYS[2], 1, held) == 1 then
    moved = moved + 1
    if redis.call('HEXISTS', job, 'cancel') == 1 then
      dest = 'cancelled'
    end
    local fields = {}
    for k, v in pairs(cjson.decode(ARGV[a + 6])) do
      fields[#fields + 1] = k
      fields[#fields + 1] = v
    end
    if dest == 'cancelled' then
      local ttl = ARGV[6 + tonumber(ARGV[5]) * 7]
      local t = redis.call('TIME')
      local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      fields = {'reason', 'cancelled', 'ended_at', now}
      redis.call('RPUSH', KEYS[10 + i * 3], 'cancelled')
      redis.call('EXPIRE', KEYS[10 + i * 3], ttl)
      redis.call('EXPIRE', job, ttl)
      redis.call('EXPIRE', history, ttl)
    elseif dest == 'dead' then
      redis.call('ZADD', KEYS[5], ARGV[a + 4], id)
      redis.call('PERSIST', job)
      redis.call('PERSIST', history)
      redis.call('RPUSH', KEYS[10 + i * 3], 'dead')
      fields[#fields + 1] = 'died_at'
      fields[#fields + 1] = ARGV[a + 4]
      if redis.call('INCR', KEYS[7]) == 1 then
        redis.call('EXPIRE', KEYS[7], 180)
      end
    elseif dest == 'scheduled' then
      redis.call('ZADD', KEYS[4], ARGV[a + 4], nxt)
    else
      redis.call('RPUSH', KEYS[3], nxt)
    end
    redis.call('HSET', job, 'status', dest == 'ready' and 'queued' or dest, 'payload', nxt,
      unpack(fields))
    redis.call('HDEL', KEYS[6], id)
    local mark = payload_id(held)  -- the id fetch.lua marked it running under
    if mark ~= '?' and mark ~= id then
      redis.call('HDEL', KEYS[6], mark)
    end
    local entry = ARGV[a + 5]
    if dest == 'cancelled' then
      local t = redis.call('TIME')
      entry = cjson.encode({at = tonumber(t[1]) + tonumber(t[2]) / 1e6, event = 'cancelled'})
    end
    redis.call('RPUSH', history, entry)
    emit(dest == 'cancelled' and 'cancelled' or 'recovered', id, 'to', dest, 'detail', entry)
  end
end
local left = redis.call('LLEN', KEYS[2])
if ARGV[4] == '1' and left == 0 then
  -- Never drop the lease of a worker that still holds a job: nothing else points at it.
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[2])
end
return {moved, left}
