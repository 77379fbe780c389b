-- The start of every script (read.lua, write.lua and check.lua follow it). KEYS[1] is the hash,
-- KEYS[2..] the string keys of the string layout, current first.

-- The stored version: the counter in `version_field`, or for a key set rotor has not
-- written yet (an application's own key, adopted) '0-<sha1 of current>', or '' for none.
-- `current_field` is the hash field of current (hash layout), nil for string keys.
local function stored_version(version_field, current_field)
  local v = redis.call('HGET', KEYS[1], version_field)
  if v then return v end
  local cur
  if current_field then
    cur = redis.call('HGET', KEYS[1], current_field)
  elseif #KEYS > 1 then
    cur = redis.call('GET', KEYS[2])
  end
  if cur then return '0-' .. redis.sha1hex(cur) end
  return ''
end

-- The first write command the ACL user may not run on a key of the layout ('HSET on
-- rotor:{api}'), or nil; nil too where the server cannot be asked (Redis 6 has no
-- redis.acl_check_cmd). Used by write.lua before its first write and by check.lua.
local function acl_denied()
  if not redis.acl_check_cmd then return nil end
  local checks = {{'hset', KEYS[1], 'f', 'v'}, {'hdel', KEYS[1], 'f'}}
  for k = 2, #KEYS do
    checks[#checks + 1] = {'set', KEYS[k], 'v'}
    checks[#checks + 1] = {'del', KEYS[k]}
  end
  for _, c in ipairs(checks) do
    if not redis.acl_check_cmd(unpack(c)) then
      return string.upper(c[1]) .. ' on ' .. c[2]
    end
  end
  return nil
end

-- Every key must have the type its layout gives it, or the script stops before
-- touching anything.
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
