-- emit: the event stream's helper. Not a transition: the loader (taskq/scripting.py) places
-- this text at the top of every script that calls emit(...), so that every script spells an
-- event the same way and appends it in the same atomic step as the change it tells.
-- The caller appends (taskq/scripting.py does it for every such script):
-- KEYS[#KEYS] events stream {q}:events    ARGV[#ARGV - 1] max length (0: no events)
-- ARGV[#ARGV] max age in ms (0: bounded by length only)
-- They are taken off KEYS and ARGV here, so the script below sees its own KEYS and ARGV.
-- emit(event, job id, field, value, ...) appends one entry: event, job, then the pairs.
-- The stream is trimmed with MAXLEN ~ (and MINID ~ when an age is set), so it stays bounded.
local EVENTS_AGE = tonumber(table.remove(ARGV))
local EVENTS_MAXLEN = table.remove(ARGV)
local EVENTS = table.remove(KEYS)
local function emit(event, id, ...)
  if EVENTS_MAXLEN == '0' then
    return
  end
  local entry = redis.call('XADD', EVENTS, 'MAXLEN', '~', EVENTS_MAXLEN, '*',
    'event', event, 'job', id, ...)
  if EVENTS_AGE > 0 then
    local ms = tonumber(string.match(entry, '^(%d+)'))
    redis.call('XTRIM', EVENTS, 'MINID', '~', ms - EVENTS_AGE)
  end
end
-- The id of an encoded payload ({"id":"..." comes first; no decoding), or '?'.
local function payload_id(payload)
  return string.match(payload, '^{"id":"([^"\\]+)"') or '?'
end
-- The value of `name` among the field, value pairs of args from index `first`, or ''.
local function field_of(args, first, name)
  for i = first, #args - 1, 2 do
    if args[i] == name then
      return args[i + 1]
    end
  end
  return ''
end
