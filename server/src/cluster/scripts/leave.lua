-- A node leaves the directory (drained, or shutting down): its registration and the rooms
-- it names go at once instead of at the end of their lease.
-- ARGV: 2 node id, 3 its rooms (JSON array of names), 4 this process's instance id. A
-- registration another process (instance) holds under the same id is left alone.
local id = ARGV[2]
local instance = redis.call('HGET', P .. ':node:' .. id, 'instance')
if instance and instance ~= ARGV[4] then return 0 end
for _, name in ipairs(cjson.decode(ARGV[3])) do
  local key = P .. ':room:' .. name
  local r = redis.call('HMGET', key, 'node', 'idx')
  if r[1] == id then
    unindex(name, r[2])
    redis.call('DEL', key, P .. ':pending:' .. name)
  end
end
redis.call('DEL', P .. ':node:' .. id)
redis.call('ZREM', P .. ':nodes', id)
return 1
