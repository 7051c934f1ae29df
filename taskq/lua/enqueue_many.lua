-- enqueue_many: enqueue a batch of jobs of one queue in one call. It runs the body of
-- enqueue.lua, which the loader (taskq/scripting.py) places above this text as the function
-- enqueue(KEYS, ARGV), once per job.
-- KEYS: 6 per job, as enqueue.lua's KEYS
-- ARGV: per job, the number M of its values, then its M values as enqueue.lua's ARGV
-- Returns one reply per job, as enqueue.lua's.
local out = {}
local a = 1
for i = 0, #KEYS / 6 - 1 do
  local m = tonumber(ARGV[a])
  out[#out + 1] = enqueue({unpack(KEYS, i * 6 + 1, i * 6 + 6)}, {unpack(ARGV, a + 1, a + m)})
  a = a + m + 1
end
return out
