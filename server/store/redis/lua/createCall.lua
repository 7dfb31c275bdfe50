-- The store's "createCall" step (run as main() between lib.lua and idempotent.lua: ../scripts.ts).
-- ARGV: p, caller, callee, callId, nowMs, nowIso, ringMs, incomingJson, maxEvents, maxBytes

local caller, callee, callId, now, nowIso, ring, incoming, maxE, maxB = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10])
local from, to = P..'s:'..caller, P..'s:'..callee
if redis.call('EXISTS', from) == 0 then return redis.error_reply('ERR_unauthorized') end
if redis.call('EXISTS', to) == 0 then return redis.error_reply('ERR_peer_not_found') end
-- A block answers exactly as an absent callee does, and wins over every other answer.
if redis.call('SISMEMBER', P..'bl:'..callee, caller) == 1 then return redis.error_reply('ERR_peer_not_found') end
local cooldown = redis.call('PTTL', P..'rd:'..caller..':'..callee)
if cooldown > 0 then return redis.error_reply('ERR_cooldown:'..cooldown) end
if redis.call('HEXISTS', from, 'call') == 1 then return redis.error_reply('ERR_busy_self') end
if redis.call('HEXISTS', to, 'call') == 1 then return redis.error_reply('ERR_busy') end
local delivered = deliver(callee, {{'incomingCall', incoming, callId}}, false, maxE, maxB, caller)
if delivered ~= true then return refused(delivered) end
local inId = redis.call('HGET', to, 'last')
redis.call('HSET', P..'c:'..callId, 'callId', callId, 'caller', caller, 'callee', callee, 'state', 'ringing', 'createdAt', nowIso, 'in', inId)
redis.call('HSET', from, 'call', callId)
redis.call('HSET', to, 'call', callId)
redis.call('SADD', P..'calls', callId)
redis.call('ZADD', P..'timers', now + ring, 'r:'..callId)
return redis.call('HGETALL', P..'c:'..callId)
