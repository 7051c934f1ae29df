-- guard: sent in the same pipeline as, and just before, a worker's BLMOVE into its active
-- list, which no script can fence. It checks that the worker's lease outlives the BLMOVE's
-- timeout, so that anything the BLMOVE lands is landed while the lease is live and recovery
-- (which waits for the lease to expire) will see it. When it does not, the worker is entered
-- in the departed set: recovery then keeps reading its list for a while (see keys.departed).
-- KEYS[1] leases zset {q}:leases   KEYS[2] departed zset {q}:departed
-- ARGV[1] worker id   ARGV[2] the BLMOVE's timeout in ms
-- Returns 1 when the lease covers the BLMOVE, 0 when it does not (the caller stops).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if expiry and tonumber(expiry) > now + tonumber(ARGV[2]) then
  return 1
end
redis.call('ZADD', KEYS[2], now, ARGV[1])
return 0
