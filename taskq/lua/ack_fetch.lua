-- ack_fetch: the hot path: acknowledge one job and fetch the next in one call. It runs the
-- bodies of ack.lua and fetch.lua, which the loader (taskq/scripting.py) places above this
-- text as the functions ack(KEYS, ARGV) and fetch(KEYS, ARGV), unchanged.
-- KEYS[1..6] ack.lua's KEYS   KEYS[7..12] fetch.lua's KEYS
-- ARGV[1] number A of ack.lua's ARGV   ARGV[2..A+1] ack.lua's ARGV   then fetch.lua's ARGV
-- Returns {ack's reply, fetch's reply}; fetch's reply is the error text when the lease is
-- lost (the ack's outcome must reach the worker all the same).
local a = tonumber(ARGV[1])
local acked = ack({KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]},
  {unpack(ARGV, 2, a + 1)})
local fetched = fetch({unpack(KEYS, 7, 12)}, {unpack(ARGV, a + 2)})
if type(fetched) == 'table' and fetched['err'] then
  return {acked, fetched['err']}
end
return {acked, fetched}
