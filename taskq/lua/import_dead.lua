-- import_dead: restore one exported dead job (record, history, place in the dead set).
-- Refused (returns the job's status, writes nothing) when a job with this id is pending here,
-- so an import never overwrites a live job; also when it is dead here already, unless
-- ARGV[3] is '1' (--replace: the file's copy replaces the dead one). Without --replace,
-- running an import twice is harmless.
-- KEYS[1] dead zset {q}:dead   KEYS[2] job hash {q}:job:<id>   KEYS[3] history list {q}:history:<id>
-- ARGV[1] job id   ARGV[2] time of death in ms   ARGV[3] '1' to replace a dead job
-- ARGV[4] number H of history entries
-- ARGV[5 .. 4+H] history entries (JSON), oldest first, the last one records the import
-- ARGV[5+H ..] field, value pairs for the job hash
-- Appends to the events stream (emit.lua; KEYS and ARGV gain its two trailing parts).
-- Returns 1 when imported, else the status of the job that already holds the id.
local status = redis.call('HGET', KEYS[2], 'status')
if status and status ~= 'done' and not (status == 'dead' and ARGV[3] == '1') then
  return status
end
local h = tonumber(ARGV[4])
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[2], 'status', 'dead', 'died_at', ARGV[2], unpack(ARGV, 5 + h))
redis.call('RPUSH', KEYS[3], unpack(ARGV, 5, 4 + h))
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
emit('imported', ARGV[1])
return 1
