-- The store's "attach" step (run as main() between lib.lua and idempotent.lua: ../scripts.ts).
-- ARGV: p, name, after (-1: none), streamId, nowMs, leaseMs → cursor, or -1 when the session is gone.
-- The session is kept for the stream's lease (renewed by touch) and graceMs after it detaches.

local name, after, streamId, now, lease = ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local s = P..'s:'..name
if redis.call('EXISTS', s) == 0 then return -1 end
redis.call('HSET', s, 'stream', streamId, 'graceAt', now + lease)
redis.call('ZADD', P..'timers', now + lease, 'g:'..name)
local sent = num(redis.call('HGET', s, 'sent'))
local cursor = 0
if after >= 0 then cursor = math.min(after, sent) end
if cursor > 0 then
  dropSent(name, cursor)
  local b = P..'b:'..name
  while true do
    local rec = redis.call('LINDEX', b, 0)
    if not rec or tonumber(string.match(rec, '^(%d+)')) > cursor then break end
    redis.call('LPOP', b)
  end
end
redis.call('PUBLISH', P..'w:'..name, 'attach:'..streamId)
return cursor
