-- The store's "register" step (run as main() between lib.lua and idempotent.lua: ../scripts.ts).
-- ARGV: p, name, tokenHash, nowMs, graceMs, ip, maxSessionsPerIp, takeOver (1|0), mayCallJson ('' none),
-- nowIso, retentionMs. A take-over ends the older session first (its call ends as peer_gone, its stream
-- is told "replace"); the older session's place counts as free for the address limit.

local name, tok, now, grace, ip, maxPerIp = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local takeOver, mc, nowIso, retention = ARGV[8] == '1', ARGV[9], ARGV[10], tonumber(ARGV[11])
local s = P..'s:'..name
local older = redis.call('EXISTS', s) == 1
if older and not takeOver then return redis.error_reply('ERR_name_taken') end
local held = num(redis.call('GET', P..'ip:'..ip))
if older and redis.call('HGET', s, 'ip') == ip then held = held - 1 end
if held >= maxPerIp then return redis.error_reply('ERR_too_many_sessions') end
if older then ended(name, 'peer_gone', nowIso, retention, 'replace') end
redis.call('HSET', s, 'tok', tok, 'created', now, 'ip', ip, 'last', 0, 'sent', 0, 'ucount', 0, 'ubytes', 0, 'rbytes', 0, 'graceAt', now + grace)
if mc ~= '' then redis.call('HSET', s, 'mc', mc) end
redis.call('INCR', P..'ip:'..ip)
redis.call('SET', P..'t:'..tok, name)
redis.call('ZADD', P..'names', 0, name)
redis.call('ZADD', P..'timers', now + grace, 'g:'..name)
return now
