-- The store's "read" step (run as main() between lib.lua and idempotent.lua: ../scripts.ts).
-- ARGV: p, name, streamId, cursor, count, maxBytes, nowMs, replayMaxEvents, replayMaxBytes, replayMaxAgeMs
-- → {more (1|0), entries...}: the entries after cursor (at most count, and about maxBytes: always at
-- least one; more = 1 when that cut the batch short), or nil when no longer the live stream.
-- What it returns is marked as written to the stream in the same step (issue 23: one script and one
-- round trip per batch instead of a read and a `sent`): the stream hands the batch to its socket in the
-- same tick, and a socket that cannot take it was a client already gone, whose resume finds the events
-- in the replay window, as it finds any written events a dying connection never delivered.

local name, streamId, cursor, count, maxBytes, now = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local s = P..'s:'..name
local f = redis.call('HMGET', s, 'stream', 'sent')
if f[1] ~= streamId then return nil end
local entries = redis.call('XRANGE', P..'m:'..name, '(0-'..cursor, '+', 'COUNT', count)
local more = 0
if #entries == count then more = 1 end
local bytes = 0
for i, entry in ipairs(entries) do
  if i > 1 and bytes >= maxBytes then
    for j = #entries, i, -1 do entries[j] = nil end
    more = 1
    break
  end
  bytes = bytes + #entry[2][4]
end
if #entries == 0 then return {0} end
local sent = num(f[2])
local id = tonumber(string.match(entries[#entries][1], '^0%-(%d+)$'))
if id > sent then
  local fresh = {}
  for _, entry in ipairs(entries) do
    if tonumber(string.match(entry[1], '^0%-(%d+)$')) > sent then fresh[#fresh + 1] = entry end
  end
  local written = undeliver(name, fresh)
  redis.call('HSET', s, 'sent', id)
  if written > 0 then redis.call('HINCRBY', s, 'rbytes', written) end
  redis.call('RPUSH', P..'b:'..name, id..':'..now)
  trim(name, now, tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]))
end
table.insert(entries, 1, more)
return entries
