-- The store's "endSession" step (run as main() between lib.lua and idempotent.lua: ../scripts.ts).
-- ARGV: p, name, reason, nowIso, retentionMs, nowMs, onlyIfExpired (1|0) → 1 if ended

local name, reason, nowIso, retention, now, onlyIfExpired = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
local s = P..'s:'..name
if redis.call('EXISTS', s) == 0 then
  redis.call('ZREM', P..'timers', 'g:'..name)
  return 0
end
if onlyIfExpired then
  -- A timer claimed for an earlier deadline, or a session that attached again since: not yet.
  local graceAt = tonumber(redis.call('HGET', s, 'graceAt'))
  if graceAt > now then
    redis.call('ZADD', P..'timers', graceAt, 'g:'..name)
    return 0
  end
end
ended(name, reason, nowIso, retention, 'end')
return 1
