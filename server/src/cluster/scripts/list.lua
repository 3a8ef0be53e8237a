-- Public rooms matching every filter whose node is open, at most ARGV[3] of them.
-- ARGV: 2 index keys (JSON array), 3 limit. Returns a JSON array of room objects.
local limit = tonumber(ARGV[3])
local out = {}
for _, name in ipairs(matching(cjson.decode(ARGV[2]))) do
  if #out >= limit then break end
  local r = redis.call('HMGET', P .. ':room:' .. name, 'node', 'url', 'players', 'capacity', 'meta')
  if r[1] and node_open(r[1]) then
    local pending = redis.call('ZCOUNT', P .. ':pending:' .. name, now, '+inf')
    table.insert(out, {name = name, node = r[1], url = r[2], players = tonumber(r[3]),
      reserved = pending, capacity = tonumber(r[4]), meta = cjson.decode(r[5])})
  end
end
if #out == 0 then return '[]' end
return cjson.encode(out)
