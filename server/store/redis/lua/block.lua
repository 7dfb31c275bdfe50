-- The store's "block" step (run as main() between lib.lua and idempotent.lua: ../scripts.ts).
-- ARGV: p, name, blocked, maxBlocks — block (idempotent)

local name, blocked, maxBlocks = ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('EXISTS', P..'s:'..name) == 0 then return redis.error_reply('ERR_unauthorized') end
local bl = P..'bl:'..name
if redis.call('SISMEMBER', bl, blocked) == 1 then return 0 end
if redis.call('SCARD', bl) >= maxBlocks then return redis.error_reply('ERR_block_limit') end
return redis.call('SADD', bl, blocked)
