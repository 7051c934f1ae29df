-- enqueue_guarded: enqueue one job under a unique or idempotency key, or return the job that
-- holds the key. It runs the body of enqueue.lua, which the loader (taskq/scripting.py)
-- places above this text as the function enqueue(KEYS, ARGV).
-- The key holds the id of the job that took it. That job keeps it while it is pending or
-- running (a crashed job is still pending), so nothing has to release it at a job's end;
-- 'unique' frees it once the job ended, 'idempotent' only once it ended without success
-- (dead, cancelled, expired): a job that succeeded answers for the key, result included,
-- until the key's TTL.
-- KEYS[1] guard key {q}:unique:<key> or {q}:idem:<key>
-- KEYS[2] job hash of the holder the caller read ({q}:job:<holder>; the new job's when none)
-- KEYS[3..] enqueue.lua's KEYS
-- ARGV[1] holder id the caller read ("" for none)   ARGV[2] "unique" | "idempotent"
-- ARGV[3] the key's TTL in seconds   ARGV[4] the new job's id   ARGV[5..] enqueue.lua's ARGV
-- Returns {"stale", holder} when the key changed since the caller read it (read again and
-- retry), {"existing", holder}, or {enqueue's reply, new id}.
local holder = redis.call('GET', KEYS[1])
if (holder or '') ~= ARGV[1] then
  return {'stale', holder or ''}
end
if holder then
  local status = redis.call('HGET', KEYS[2], 'status')
  local pending = status and status ~= 'dead' and status ~= 'cancelled'
    and status ~= 'expired'
  if pending and (status ~= 'done' or ARGV[2] == 'idempotent') then
    return {'existing', holder}
  end
end
local reply = enqueue({unpack(KEYS, 3)}, {unpack(ARGV, 5)})
if reply == 1 then
  redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[3])
end
return {reply, ARGV[4]}
