-- The store's "acceptCall" step (run as main() between lib.lua and idempotent.lua: ../scripts.ts).
-- ARGV: p, name, callId, nowIso, responseJson, startJson, maxEvents, maxBytes

local name, callId, nowIso, response, start, maxE, maxB = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])
local caller, callee, state = partyCall(name, callId)
if name ~= callee then return redis.error_reply('ERR_forbidden_accept') end
if state ~= 'ringing' then return redis.error_reply('ERR_invalid_state:'..state) end
local delivered = deliver(caller, {{'callResponse', response, callId}}, false, maxE, maxB, name)
if delivered ~= true then return refused(delivered) end
deliver(callee, {{'startCommunication', start, callId}}, true, 0, 0, '')
redis.call('HSET', P..'c:'..callId, 'state', 'active', 'answeredAt', nowIso)
redis.call('ZREM', P..'timers', 'r:'..callId)
return redis.call('HGETALL', P..'c:'..callId)
