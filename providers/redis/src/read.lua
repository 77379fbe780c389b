-- Reads a key set atomically.
-- KEYS[1]    the hash (the whole key set, or rotor's metadata beside string keys)
-- KEYS[2..]  string keys of the slots (string layout only), current first
-- ARGV[1]    'hash' or 'strings'
-- ARGV[2]    the version field
-- ARGV[3]    the current field (hash layout)
-- Returns {version, the hash's fields and values, the string keys' values...}; the
-- version is '' for no key set, or '0-<sha1 of current>' for a key set rotor has not
-- written yet (an application's own key, adopted).
for k = 2, #KEYS do
  local t = redis.call('TYPE', KEYS[k]).ok
  if t ~= 'string' and t ~= 'none' then
    return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' holds a ' .. t .. ', not a string')
  end
end
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'hash' and t ~= 'none' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' holds a ' .. t .. ', not a hash')
end
local out = {'', redis.call('HGETALL', KEYS[1])}
for k = 2, #KEYS do
  out[k + 1] = redis.call('GET', KEYS[k])
end
local v = redis.call('HGET', KEYS[1], ARGV[2])
if not v then
  local cur
  if ARGV[1] == 'hash' then cur = redis.call('HGET', KEYS[1], ARGV[3]) else cur = out[3] end
  if cur then v = '0-' .. redis.sha1hex(cur) end
end
out[1] = v or ''
return out
