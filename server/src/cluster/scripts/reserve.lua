-- Reserves a seat, creating the room when needed, in one atomic step: two matchmakers
-- asking at once for the same room name or filters find or make one room, never two.
-- ARGV: 2 mode (join|create|find), 3 room name (find: the name a new room gets),
-- 4 index keys (JSON array), 5 candidate node ids, least loaded first (JSON array),
-- 6 capacity, 7 metadata (JSON), 8 private (0|1), 9 seat id, 10 seat ttl ms, 11 lease ms,
-- 12 game.
-- Returns {status, room, node, url}; status: ok, full, exists, draining, no_node.
local mode, name, idx_json = ARGV[2], ARGV[3], ARGV[4]
local seat, seat_ttl, lease = ARGV[9], tonumber(ARGV[10]), tonumber(ARGV[11])

-- Seats left in a room whose node is open; nil and why when it cannot take anyone.
local function seats_left(room)
  local r = redis.call('HMGET', P .. ':room:' .. room, 'node', 'players', 'capacity', 'url')
  if not r[1] then return nil, 'gone' end
  local url, state = node_open(r[1])
  if not url then return nil, state end
  local pending = P .. ':pending:' .. room
  redis.call('ZREMRANGEBYSCORE', pending, '-inf', now)
  local left = tonumber(r[3]) - tonumber(r[2]) - redis.call('ZCARD', pending)
  return left, r
end

local function reserve(room, node, url)
  local pending = P .. ':pending:' .. room
  redis.call('ZADD', pending, now + seat_ttl, seat)
  redis.call('PEXPIRE', pending, seat_ttl + lease)
  redis.call('HINCRBY', P .. ':node:' .. node, 'players', 1)
  return {'ok', room, node, url}
end

local function create(room)
  for _, id in ipairs(cjson.decode(ARGV[5])) do
    local url = node_open(id)
    if url then
      local n = redis.call('HMGET', P .. ':node:' .. id, 'players', 'max_players', 'rooms', 'max_rooms')
      if tonumber(n[1]) < tonumber(n[2]) and tonumber(n[3]) < tonumber(n[4]) then
        local key = P .. ':room:' .. room
        redis.call('DEL', key, P .. ':pending:' .. room)
        redis.call('HSET', key, 'node', id, 'url', url, 'players', 0, 'capacity', ARGV[6],
          'game', ARGV[12], 'meta', ARGV[7], 'private', ARGV[8], 'idx', idx_json)
        local expiry = math.max(lease, seat_ttl)
        redis.call('PEXPIRE', key, expiry)
        if ARGV[8] ~= '1' then
          redis.call('ZADD', P .. ':rooms', now + expiry, room)
          for _, index in ipairs(cjson.decode(idx_json)) do
            redis.call('ZADD', index, now + expiry, room)
          end
        end
        redis.call('HINCRBY', P .. ':node:' .. id, 'rooms', 1)
        return reserve(room, id, url)
      end
    end
  end
  return {'no_node', room, '', ''}
end

if mode == 'find' then
  for _, room in ipairs(matching(cjson.decode(idx_json))) do
    local left, r = seats_left(room)
    if left and left > 0 then return reserve(room, r[1], r[4]) end
  end
  return create(name)
end

local left, r = seats_left(name)
if left then
  if mode == 'create' then return {'exists', name, r[1], r[4]} end
  if left > 0 then return reserve(name, r[1], r[4]) end
  return {'full', name, r[1], r[4]}
end
if r == 'draining' then
  -- The room still runs on a node that is leaving: a second room of the same name
  -- elsewhere would split its players.
  return {'draining', name, '', ''}
end
-- No room of that name, or only the entry of a node that is gone: make it.
if r == 'gone' then
  local old = redis.call('HGET', P .. ':room:' .. name, 'idx')
  if old then unindex(name, old) end
end
return create(name)
