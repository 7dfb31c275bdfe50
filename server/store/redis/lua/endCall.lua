-- The store's "endCall" step (run as main() between lib.lua and idempotent.lua: ../scripts.ts).
-- ARGV: p, name, callId, nowIso, retentionMs, cooldownMs, failed ('1' or ''), cause ('' when unknown)
-- → 1 ended now, 0 already ended

local name, callId, nowIso, retention, cooldown = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local failed, cause = ARGV[7] == '1', ARGV[8] or ''
local caller, callee, state = partyCall(name, callId)
if state == 'ended' then return 0 end
if failed then
  local peer = caller
  if name == caller then peer = callee end
  if cause ~= '' then redis.call('HSET', P..'c:'..callId, 'endCause', cause) end
  finish(callId, 'failed', {{peer, 'stopCommunication', stopJson(callId, 'failed', cause)}}, nowIso, retention, 0)
elseif state == 'active' then
  local peer = caller
  if name == caller then peer = callee end
  finish(callId, 'hangup', {{peer, 'stopCommunication', stopJson(callId, 'hangup')}}, nowIso, retention, 0)
elseif name == caller then
  finish(callId, 'cancelled', {{callee, 'stopCommunication', stopJson(callId, 'cancelled')}}, nowIso, retention, 0)
else
  finish(callId, 'rejected', {{caller, 'callResponse', '{"callId":"'..callId..'","response":"rejected","message":"declined"}'}}, nowIso, retention, cooldown)
end
return 1
