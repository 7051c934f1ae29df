-- place: put a job that is ready to run in its line, by its priority (not a transition:
-- the loader places this text as the function place(KEYS, ARGV) in enqueue.lua and
-- promote.lua). NORMAL jobs go to ready. A HIGH or LOW job goes to ready too when ready and
-- its own line are empty (so an idle worker blocked on ready gets it at once, and it is
-- older than anything that can join its line later: fetch.lua relies on that), else to the
-- back of its own line.
-- KEYS[1] ready list {q}:ready   KEYS[2] high line {q}:ready:high   KEYS[3] low line
-- ARGV[1] encoded payload (its priority, when not NORMAL, is its last field)
-- Returns the list it went to.
-- (Only the payload's tail is searched: the field is at most 16 bytes of it, and a pattern
-- anchored at the end alone would be tried from every byte of a long payload.)
local level = tonumber(string.match(string.sub(ARGV[1], -16), '"priority":(%-?%d+)}$') or '0')
local own = 1
if level > 0 then own = 2 elseif level < 0 then own = 3 end
if own ~= 1 and redis.call('LLEN', KEYS[1]) == 0 and redis.call('LLEN', KEYS[own]) == 0 then
  own = 1  -- nothing waits: straight to ready, where idle workers block
end
redis.call('LPUSH', KEYS[own], ARGV[1])
return KEYS[own]
