-- A node took a seat: it no longer counts as reserved. ARGV: 2 room, 3 seat id.
redis.call('ZREM', P .. ':pending:' .. ARGV[2], ARGV[3])
return 1
