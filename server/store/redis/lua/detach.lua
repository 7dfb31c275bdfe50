-- The store's "detach" step (run as main() between lib.lua and idempotent.lua: ../scripts.ts).
-- ARGV: p, name, streamId, nowMs, graceMs, detach|keep, replayMaxEvents, replayMaxBytes, replayMaxAgeMs —
-- detach, or renew the lease (touch, on every heartbeat) with graceMs = lease; a touch also applies the
-- replay window's age while nothing new arrives.

local name, streamId, now, grace, keep = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] == 'keep'
local s = P..'s:'..name
if redis.call('HGET', s, 'stream') ~= streamId then return 0 end
if keep then trim(name, now, tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])) else redis.call('HDEL', s, 'stream') end
redis.call('HSET', s, 'graceAt', now + grace)
redis.call('ZADD', P..'timers', now + grace, 'g:'..name)
return 1
