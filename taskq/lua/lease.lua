-- lease: register or renew one worker's lease on a queue, judged on the server's clock
-- (TIME here, so no client clock is involved).
-- KEYS[1] leases zset {q}:leases
-- ARGV[1] worker id   ARGV[2] lease TTL in ms   ARGV[3] "register" | "renew"
-- A renewal never revives a lease that is gone or already expired: recovery may have decided
-- (or may be about to decide) that the worker is dead, and may keep an expired entry only
-- while it still holds jobs. Returns 1 when the lease runs to now + TTL, 0 when it is lost.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[3] ~= 'register' then
  local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if not expiry or tonumber(expiry) < now then
    return 0
  end
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1
