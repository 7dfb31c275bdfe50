-- The store's "find" step (run as main() between lib.lua and idempotent.lua: ../scripts.ts).
-- ARGV: p, tokenHash → {name, created, mayCallJson|false} or nil

local name = redis.call('GET', P..'t:'..ARGV[2])
if not name then return nil end
local f = redis.call('HMGET', P..'s:'..name, 'tok', 'created', 'mc')
if f[1] ~= ARGV[2] then return nil end
return {name, f[2], f[3]}
