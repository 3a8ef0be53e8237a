-- Renews a node's lease and its rooms' leases, publishing their load; (re-)registers them
-- after they expired or Redis lost them. Rooms the node stopped hosting are removed.
-- ARGV: 2 node id, 3 node fields (JSON object), 4 lease ms, 5 draining (0|1),
-- 6 hosted rooms (JSON array of {name, players, capacity, game, meta, private, idx}),
-- 7 rooms gone (JSON array of names), 8 seats now counted among the players (JSON array of
-- [room, seat id]), 9 this process's instance id.
-- Returns {'ok', rooms another live node holds…}; or, when another process (instance) holds
-- this node id with a live lease, {'held', its url, when it last renewed (ms)} and changes
-- nothing: two live nodes never share one registration.
local id, lease, draining, instance = ARGV[2], tonumber(ARGV[4]), ARGV[5], ARGV[9]
local node_key = P .. ':node:' .. id
local held = redis.call('HMGET', node_key, 'instance', 'url', 'renewed')
if held[1] and held[1] ~= instance then
  return {'held', held[2] or '', held[3] or ''}
end
local fields = cjson.decode(ARGV[3])
for k, v in pairs(fields) do redis.call('HSET', node_key, k, tostring(v)) end
redis.call('HSET', node_key, 'draining', draining, 'instance', instance, 'renewed', now)
redis.call('PEXPIRE', node_key, lease)
redis.call('ZREMRANGEBYSCORE', P .. ':nodes', '-inf', now)
redis.call('ZADD', P .. ':nodes', now + lease, id)

local conflicts = {'ok'}
for _, room in ipairs(cjson.decode(ARGV[6])) do
  local key = P .. ':room:' .. room.name
  local holder = redis.call('HGET', key, 'node')
  if holder and holder ~= id and redis.call('EXISTS', P .. ':node:' .. holder) == 1 then
    table.insert(conflicts, room.name)
  else
    local idx = cjson.encode(room.idx)
    if #room.idx == 0 then idx = '[]' end
    redis.call('HSET', key, 'node', id, 'url', fields.url, 'players', room.players,
      'capacity', room.capacity, 'game', room.game, 'meta', room.meta,
      'private', room.private and '1' or '0', 'idx', idx)
    redis.call('PEXPIRE', key, lease)
    if draining == '1' or room.private then
      unindex(room.name, idx)
    else
      redis.call('ZADD', P .. ':rooms', now + lease, room.name)
      for _, index in ipairs(room.idx) do redis.call('ZADD', index, now + lease, room.name) end
    end
  end
end
for _, name in ipairs(cjson.decode(ARGV[7])) do
  local key = P .. ':room:' .. name
  local r = redis.call('HMGET', key, 'node', 'idx')
  if r[1] == id then
    unindex(name, r[2])
    redis.call('DEL', key, P .. ':pending:' .. name)
  end
end
for _, pair in ipairs(cjson.decode(ARGV[8])) do
  redis.call('ZREM', P .. ':pending:' .. pair[1], pair[2])
end
return conflicts
