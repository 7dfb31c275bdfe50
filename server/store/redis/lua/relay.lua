-- The store's "relay" step (run as main() between lib.lua and idempotent.lua: ../scripts.ts).
-- ARGV: p, name, callId, kind (candidates|sdp), maxEvents, maxBytes, maxCandidatesPerCall, json...

local name, callId, kind, maxE, maxB, maxCandidates = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
-- partyCall's check, with the candidate counters in the same read.
local c = P..'c:'..callId
local f = redis.call('HMGET', c, 'caller', 'callee', 'state', 'n:caller', 'n:callee')
local caller, callee, state = f[1], f[2], f[3]
if not caller or (caller ~= name and callee ~= name) then return redis.error_reply('ERR_call_not_found') end
if kind == 'sdp' and state ~= 'active' then return redis.error_reply('ERR_invalid_state_sdp:'..state) end
if state == 'ended' then return redis.error_reply('ERR_invalid_state_candidates:'..state) end
local peer, counter, relayed = caller, 'n:callee', num(f[5])
if name == caller then peer, counter, relayed = callee, 'n:caller', num(f[4]) end
local event = 'iceCandidate'
if kind == 'sdp' then event = 'sdp' end
local events = {}
for i = 8, #ARGV do events[#events + 1] = {event, ARGV[i], callId} end
if kind == 'candidates' and relayed + #events > maxCandidates then return redis.error_reply('ERR_candidate_limit') end
local delivered = deliver(peer, events, false, maxE, maxB, name)
if delivered ~= true then return refused(delivered) end
if kind == 'candidates' then redis.call('HSET', c, counter, relayed + #events) end
return 1
