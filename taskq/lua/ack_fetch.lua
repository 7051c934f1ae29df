-- ack_fetch: the hot path: acknowledge the jobs a worker finished (one or a batch) and fetch
-- the next ones, in one call. It runs the bodies of ack.lua and fetch.lua, which the loader
-- (taskq/scripting.py) places above this text as the functions ack(KEYS, ARGV) and
-- fetch(KEYS, ARGV), unchanged; each ack is exactly ack.lua, so each is fenced on its own.
-- KEYS: M times ack.lua's 6 KEYS, then fetch.lua's 6 KEYS
-- ARGV[1] M, the number of acks; then per ack: the count A of its ARGV, then ack.lua's ARGV
-- (A values); then fetch.lua's ARGV (worker id, N). N = 0: acknowledge only, no fetch (and
-- no lease check: an ack is fenced by its delivery's presence in the active list).
-- Returns {{ack reply per ack, in order}, fetch's reply}; fetch's reply is the error text
-- when the lease is lost (the acks' outcomes must reach the worker all the same).
local m = tonumber(ARGV[1])
local acked = {}
local at = 2
for i = 0, m - 1 do
  local a = tonumber(ARGV[at])
  local k = i * 6
  acked[i + 1] = ack({KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], KEYS[k + 5],
    KEYS[k + 6]}, {unpack(ARGV, at + 1, at + a)})
  at = at + a + 1
end
local fetch_args = {unpack(ARGV, at)}
if tonumber(fetch_args[2]) == 0 then
  return {acked, {}}
end
local fetched = fetch({unpack(KEYS, m * 6 + 1, m * 6 + 6)}, fetch_args)
if type(fetched) == 'table' and fetched['err'] then
  return {acked, fetched['err']}
end
return {acked, fetched}
