-- The store's "blocks" step (run as main() between lib.lua and idempotent.lua: ../scripts.ts).
-- ARGV: p, name, blocked ('' lists) — unblock (idempotent), or list with ''

local name, blocked = ARGV[2], ARGV[3]
if redis.call('EXISTS', P..'s:'..name) == 0 then return redis.error_reply('ERR_unauthorized') end
if blocked ~= '' then return redis.call('SREM', P..'bl:'..name, blocked) end
return redis.call('SMEMBERS', P..'bl:'..name)
