-- `rotor check`: whether the ACL user may run every write command rotor's write script
-- runs, on every key of the layout, without running one. KEYS as in read.lua.
-- Returns 'ok', or 'unknown: ...' where the server cannot be asked (Redis 6).
if not redis.acl_check_cmd then
  return 'unknown: this server has no redis.acl_check_cmd (Redis 6); the right to write is known only by writing'
end
local checks = {{'hset', KEYS[1], 'f', 'v'}, {'hdel', KEYS[1], 'f'}}
for k = 2, #KEYS do
  checks[#checks + 1] = {'set', KEYS[k], 'v'}
  checks[#checks + 1] = {'del', KEYS[k]}
end
for _, c in ipairs(checks) do
  if not redis.acl_check_cmd(unpack(c)) then
    return redis.error_reply('NOPERM the ACL user may not run ' .. string.upper(c[1]) .. ' on ' .. c[2])
  end
end
return 'ok'
