-- import_dead: restore one exported dead job (record, history, place in the dead set).
-- Refused (returns the job's status, writes nothing) when a job with this id is pending or
-- already dead here, so an import never overwrites a live job and running it twice is harmless.
-- KEYS[1] dead zset {q}:dead   KEYS[2] job hash {q}:job:<id>   KEYS[3] history list {q}:history:<id>
-- ARGV[1] job id   ARGV[2] time of death in ms   ARGV[3] number H of history entries
-- ARGV[4 .. 3+H] history entries (JSON), oldest first, the last one records the import
-- ARGV[4+H ..] field, value pairs for the job hash
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- Returns 1 when imported, else the status of the job that already holds the id.
local status = redis.call('HGET', KEYS[2], 'status')
if status and status ~= 'done' then
  return status
end
local h = tonumber(ARGV[3])
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[2], 'status', 'dead', 'died_at', ARGV[2], unpack(ARGV, 4 + h))
redis.call('RPUSH', KEYS[3], unpack(ARGV, 4, 3 + h))
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
emit('imported', ARGV[1])
return 1
