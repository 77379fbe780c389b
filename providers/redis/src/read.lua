-- Reads a key set atomically.
-- KEYS[1]    the hash (the whole key set, or rotor's metadata beside string keys)
-- KEYS[2..]  string keys of the slots (string layout only), current first
-- ARGV[1]    'hash' or 'strings'
-- ARGV[2]    the version field
-- ARGV[3]    the current field (hash layout)
-- Returns {version, the hash's fields and values, the string keys' values...}; the
-- version is '' for no key set, or '0-<sha1 of current>' for a key set rotor has not
-- written yet (an application's own key, adopted).
local out = {'', redis.call('HGETALL', KEYS[1])}
for k = 2, #KEYS do
  out[k + 1] = redis.call('GET', KEYS[k])
end
out[1] = stored_version(ARGV[2], ARGV[1] == 'hash' and ARGV[3] or nil)
return out
