-- The store's "rejectCall" step (run as main() between lib.lua and idempotent.lua: ../scripts.ts).
-- ARGV: p, name, callId, nowIso, retentionMs, rejectedJson, cooldownMs, block (1|0), maxBlocks

local name, callId, nowIso, retention, rejected, cooldown, block, maxBlocks = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7]), ARGV[8] == '1', tonumber(ARGV[9])
local caller, callee, state = partyCall(name, callId)
if name ~= callee then return redis.error_reply('ERR_forbidden_reject') end
if state ~= 'ringing' then return redis.error_reply('ERR_invalid_state:'..state) end
if block then
  local bl = P..'bl:'..name
  if redis.call('SISMEMBER', bl, caller) == 0 and redis.call('SCARD', bl) >= maxBlocks then return redis.error_reply('ERR_block_limit') end
  redis.call('SADD', bl, caller)
end
finish(callId, 'rejected', {{caller, 'callResponse', rejected}}, nowIso, retention, cooldown)
return redis.call('HGETALL', P..'c:'..callId)
