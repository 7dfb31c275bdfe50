-- The store's "ringTimeout" step (run as main() between lib.lua and idempotent.lua: ../scripts.ts).
-- ARGV: p, callId, nowIso, retentionMs, cooldownMs — the ring time-out

local callId, nowIso, retention, cooldown = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local f = redis.call('HMGET', P..'c:'..callId, 'caller', 'callee', 'state')
if f[3] ~= 'ringing' then
  redis.call('ZREM', P..'timers', 'r:'..callId)
  return 0
end
local notice = stopJson(callId, 'no_answer')
finish(callId, 'no_answer', {{f[1], 'stopCommunication', notice}, {f[2], 'stopCommunication', notice}}, nowIso, retention, cooldown)
return 1
