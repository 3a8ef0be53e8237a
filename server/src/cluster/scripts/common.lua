-- Shared by the directory's scripts (prepended to each). Keys under prefix P:
--   P:node:ID    hash  url players rooms tick_p99_us tick_budget_us max_players max_rooms draining
--                      instance (the process holding the id) renewed (ms)
--   P:nodes      zset  node id -> lease expiry (ms)
--   P:room:NAME  hash  node url players capacity game meta private idx
--   P:rooms      zset  public room -> lease expiry (ms): the index of all listed rooms
--   P:idx:K=V    zset  public room -> lease expiry (ms): rooms whose metadata has K = V
--   P:pending:NAME zset seat id -> seat expiry (ms): seats reserved, not yet taken
local P = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- The node's URL when it is registered (its lease alive) and not draining.
local function node_open(id)
  local n = redis.call('HMGET', P .. ':node:' .. id, 'url', 'draining')
  if not n[1] then return nil, 'gone' end
  if n[2] == '1' then return nil, 'draining' end
  return n[1], 'open'
end

-- Live members of an index, pruning the expired ones.
local function live(index)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  return redis.call('ZRANGEBYSCORE', index, now, '+inf')
end

-- Public rooms in every one of the given indexes (all listed rooms when none).
local function matching(indexes)
  if #indexes == 0 then return live(P .. ':rooms') end
  local best, best_n = nil, nil
  for _, index in ipairs(indexes) do
    local n = redis.call('ZCOUNT', index, now, '+inf')
    if best_n == nil or n < best_n then best, best_n = index, n end
  end
  local out = {}
  for _, name in ipairs(live(best)) do
    local all = true
    for _, index in ipairs(indexes) do
      if index ~= best then
        local score = redis.call('ZSCORE', index, name)
        if not score or tonumber(score) <= now then all = false break end
      end
    end
    if all then table.insert(out, name) end
  end
  return out
end

local function unindex(name, idx_json)
  redis.call('ZREM', P .. ':rooms', name)
  if idx_json then
    for _, index in ipairs(cjson.decode(idx_json)) do redis.call('ZREM', index, name) end
  end
end
