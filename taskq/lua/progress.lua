-- progress: a running job records its progress and/or merges metadata into its record.
-- KEYS[1]  job hash        taskq:{q}:job:<id>
-- ARGV[1]  progress as JSON (a number or an object), or "" to leave it as it is
-- ARGV[2]  metadata patch as a JSON object, or ""   ARGV[3] job id
-- Events: `progress` (progress, meta: as given)
-- returns  1 when written; 0 when the job has no record or has already ended
-- touches  the job hash's fields `progress` and `meta` only
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'done' or status == 'dead' or status == 'cancelled' then
  return 0
end
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[1], 'progress', ARGV[1])
end
if ARGV[2] ~= '' then
  local meta = cjson.decode(redis.call('HGET', KEYS[1], 'meta') or '{}')
  for k, v in pairs(cjson.decode(ARGV[2])) do
    meta[k] = v
  end
  redis.call('HSET', KEYS[1], 'meta', cjson.encode(meta))
end
emit('progress', ARGV[3], 'progress', ARGV[1], 'meta', ARGV[2])
return 1
