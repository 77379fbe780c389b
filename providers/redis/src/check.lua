-- `rotor check`: whether the ACL user may run every write command rotor's write script
-- runs, on every key of the layout, without running one (common.lua's acl_denied).
-- Returns 'ok', or 'unknown: ...' where the server cannot be asked (Redis 6).
if not redis.acl_check_cmd then
  return 'unknown: this server has no redis.acl_check_cmd (Redis 6); the right to write is known only by writing'
end
local denied = acl_denied()
if denied then
  return redis.error_reply('NOPERM the ACL user may not run ' .. denied)
end
return 'ok'
