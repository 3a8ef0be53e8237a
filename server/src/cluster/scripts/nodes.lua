-- The live nodes with their load. Returns a JSON array of node objects.
local out = {}
for _, id in ipairs(live(P .. ':nodes')) do
  local n = redis.call('HMGET', P .. ':node:' .. id, 'url', 'players', 'rooms', 'tick_p99_us',
    'tick_budget_us', 'max_players', 'max_rooms', 'draining')
  if n[1] then
    table.insert(out, {id = id, url = n[1], players = tonumber(n[2]), rooms = tonumber(n[3]),
      tick_p99_us = tonumber(n[4]), tick_budget_us = tonumber(n[5]),
      max_players = tonumber(n[6]), max_rooms = tonumber(n[7]), draining = n[8] == '1'})
  end
end
if #out == 0 then return '[]' end
return cjson.encode(out)
