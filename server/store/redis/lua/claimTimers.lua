-- The store's "claimTimers" step (run as main() between lib.lua and idempotent.lua: ../scripts.ts).
-- ARGV: p, nowMs, max, retryMs → due timer members. A claimed timer is pushed retryMs later rather than
-- removed: the script it fires removes or reschedules it, and if the claiming instance dies first,
-- another instance claims it again.

local now, retry = tonumber(ARGV[2]), tonumber(ARGV[4])
local due = redis.call('ZRANGEBYSCORE', P..'timers', '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do redis.call('ZADD', P..'timers', now + retry, member) end
return due
