-- Writes a key set if the stored version is the one given: all or nothing, in one call.
-- KEYS as in read.lua.
-- ARGV[1]    the version the write is based on ('' for none: create)
-- ARGV[2]    'hash' or 'strings'
-- ARGV[3]    the version field
-- ARGV[4]    the current field (hash layout)
-- ARGV[5]    n, then n field/value pairs to set in the hash
-- then m, then m fields to delete from the hash
-- then one value per string key ('' deletes the key)
-- Returns {1, new version} or {0, the version found}.
--
-- Everything is checked before the first write (a script is not rolled back when a
-- command fails half-way): the type of every key (common.lua, run first), and the ACL
-- user's right to every write command on every key.
local denied = acl_denied()
if denied then
  return redis.error_reply('NOPERM the ACL user may not run ' .. denied)
end
local have = stored_version(ARGV[3], ARGV[2] == 'hash' and ARGV[4] or nil)
if have ~= ARGV[1] then
  return {0, have}
end
local i = 6
local set = {}
for _ = 1, tonumber(ARGV[5]) do
  set[#set + 1] = ARGV[i]
  set[#set + 1] = ARGV[i + 1]
  i = i + 2
end
local m = tonumber(ARGV[i])
i = i + 1
local del = {}
for _ = 1, m do
  del[#del + 1] = ARGV[i]
  i = i + 1
end
for k = 2, #KEYS do
  if ARGV[i] == '' then
    redis.call('DEL', KEYS[k])
  else
    redis.call('SET', KEYS[k], ARGV[i])
  end
  i = i + 1
end
if #del > 0 then
  redis.call('HDEL', KEYS[1], unpack(del))
end
local nextv = tostring((tonumber(have) or 0) + 1)
set[#set + 1] = ARGV[3]
set[#set + 1] = nextv
redis.call('HSET', KEYS[1], unpack(set))
return {1, nextv}
