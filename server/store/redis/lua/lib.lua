-- The functions every step shares (deliver, undeliver, trim, finish, ended…), prepended to each step: Redis
-- runs each step as one script, and a script cannot call another. The steps' rules are the in-memory
-- store's (server/store/memory/), written for Redis. The keys, under the prefix P (ARGV[1]):
--
--   {p}s:<name>    hash   tok, created, ip, call, stream, graceAt, last (last id), sent (highest id written
--                         to a stream), ucount / ubytes (undelivered events / bytes), rbytes (bytes of
--                         written events held for replay), mc (sigpost_may_call as JSON, verified names)
--   {p}bl:<name>   set    names this session blocks (deleted with the session)
--   {p}rd:<caller>:<callee> string  the caller's redial cool-down for that callee (PX)
--   {p}tk:<hash>   string a stream ticket: the token hash of its session (PX; GETDEL uses it up)
--   {p}t:<hash>    string the name whose token hashes to <hash>
--   {p}names       zset   live names, all with score 0 (ordered by name for the paged directory)
--   {p}ip:<addr>   string live sessions registered from that address
--   {p}u:<name>    hash   undelivered events (c:<sender>) and bytes (b:<sender>) per sender
--   {p}m:<name>    stream the mailbox: entry id 0-<n> (n = the event id), fields e (event), j (json),
--                         f (sender; '' for the server's own notices) and c (call id, or '')
--   {p}b:<name>    list   "<id>:<ms>": events up to <id> were written to a stream at <ms> (replay age)
--   {p}c:<callId>  hash   caller, callee, state, createdAt, answeredAt, endedAt, endReason, endCause, in (the id of
--                         the callee's incomingCall), n:caller / n:callee (candidates relayed)
--   {p}calls       set    call ids that are ringing or active
--   {p}timers      zset   g:<name> (grace) and r:<callId> (ring) by due time; claimed by any instance
--   {p}undelivered string  undelivered events, all mailboxes
--   {p}w:<name>    channel "wake" | "attach:<streamId>" | "end" | "replace" (taken over), to the instance holding the stream
--
--   {p}i:<scope>   string the reply of a request sent with an Idempotency-Key (see idempotent.lua)
--
-- Errors come back as `ERR_<code>` replies that the store turns into ApiErrors.

local P = ARGV[1]
local function num(v) return tonumber(v) or 0 end

-- Stores events for a recipient in order, all or none; false (or 'share') when over the limits, unless
-- forced. events: {event, json, callId or ''}; from: the sender ('' for the server's own notices).
local function deliver(name, events, force, maxEvents, maxBytes, from)
  local s = P..'s:'..name
  local u = P..'u:'..name
  local f = redis.call('HMGET', s, 'last', 'ucount', 'ubytes')
  local last, ucount, ubytes = num(f[1]), num(f[2]), num(f[3])
  local bytes = 0
  for _, e in ipairs(events) do bytes = bytes + #e[2] end
  -- The sender's share after this delivery, when it was read for the check (then one HSET writes it).
  local shareCount, shareBytes
  if not force then
    if ucount + #events > maxEvents or ubytes + bytes > maxBytes then return false end
    local share = redis.call('HMGET', u, 'c:'..from, 'b:'..from)
    shareCount, shareBytes = num(share[1]) + #events, num(share[2]) + bytes
    if shareCount > maxEvents / 2 or shareBytes > maxBytes / 2 then return 'share' end
  end
  for _, e in ipairs(events) do
    last = last + 1
    redis.call('XADD', P..'m:'..name, '0-'..last, 'e', e[1], 'j', e[2], 'f', from, 'c', e[3] or '')
  end
  redis.call('HSET', s, 'last', last, 'ucount', ucount + #events, 'ubytes', ubytes + bytes)
  if shareCount then
    redis.call('HSET', u, 'c:'..from, shareCount, 'b:'..from, shareBytes)
  else
    redis.call('HINCRBY', u, 'c:'..from, #events)
    redis.call('HINCRBY', u, 'b:'..from, bytes)
  end
  redis.call('INCRBY', P..'undelivered', #events)
  redis.call('PUBLISH', P..'w:'..name, 'wake')
  return true
end

-- A deliver() refusal as the script's error reply.
local function refused(result)
  if result == 'share' then return redis.error_reply('ERR_mailbox_share') end
  return redis.error_reply('ERR_mailbox_full')
end

-- Takes undelivered entries out of the counts (written to a stream, or collapsed): per sender and in all.
local function undeliver(name, entries)
  if #entries == 0 then return 0 end
  local u = P..'u:'..name
  local bytes = 0
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    local b = #fields[4]
    bytes = bytes + b
    local from = fields[6] or ''
    if num(redis.call('HINCRBY', u, 'c:'..from, -1)) <= 0 then
      redis.call('HDEL', u, 'c:'..from, 'b:'..from)
    else
      redis.call('HINCRBY', u, 'b:'..from, -b)
    end
  end
  local s = P..'s:'..name
  redis.call('HINCRBY', s, 'ucount', -#entries)
  if bytes > 0 then redis.call('HINCRBY', s, 'ubytes', -bytes) end
  redis.call('INCRBY', P..'undelivered', -#entries)
  return bytes
end

-- Lets go of written entries up to id (their bytes leave the replay window's count).
local function dropSent(name, id)
  local m = P..'m:'..name
  local bytes = 0
  for _, entry in ipairs(redis.call('XRANGE', m, '-', '0-'..id)) do bytes = bytes + #entry[2][4] end
  redis.call('XTRIM', m, 'MINID', '0-'..(id + 1))
  if bytes > 0 then redis.call('HINCRBY', P..'s:'..name, 'rbytes', -bytes) end
  return bytes
end

-- The replay window: written events beyond its count, bytes or age are let go; undelivered ones never.
local function trim(name, now, replayMax, replayMaxBytes, replayAge)
  local s = P..'s:'..name
  local m = P..'m:'..name
  local b = P..'b:'..name
  local first = redis.call('XRANGE', m, '-', '+', 'COUNT', 1)[1]
  if not first then return end
  local f = redis.call('HMGET', s, 'sent', 'rbytes')
  local sent, rbytes = num(f[1]), num(f[2])
  local firstId = tonumber(string.match(first[1], '^0%-(%d+)$'))
  if firstId > sent then return end
  -- Counted by ids: a gap left by a collapsed missed call counts as an event here, so the window may
  -- hold a little less than replayMax; it never reaches past the written ones.
  local keepFrom = firstId
  local sentHeld = sent - firstId + 1
  if sentHeld > replayMax then keepFrom = firstId + sentHeld - replayMax end
  while true do
    local rec = redis.call('LINDEX', b, 0)
    if not rec then break end
    local rid, rat = string.match(rec, '^(%d+):(%d+)$')
    rid, rat = tonumber(rid), tonumber(rat)
    if rid < keepFrom then
      redis.call('LPOP', b)
    elseif now - rat > replayAge then
      keepFrom = rid + 1
      redis.call('LPOP', b)
    else
      break
    end
  end
  if keepFrom > firstId then rbytes = rbytes - dropSent(name, keepFrom - 1) end
  while rbytes > replayMaxBytes do
    local oldest = redis.call('XRANGE', m, '-', '0-'..sent, 'COUNT', 16)
    if #oldest == 0 then break end
    local upTo
    for _, entry in ipairs(oldest) do
      if rbytes <= replayMaxBytes then break end
      rbytes = rbytes - #entry[2][4]
      upTo = tonumber(string.match(entry[1], '^0%-(%d+)$'))
    end
    if not upTo then break end
    dropSent(name, upTo)
  end
end

local function stopJson(callId, reason, cause)
  if cause and cause ~= '' then
    return '{"callId":"'..callId..'","reason":"'..reason..'","cause":"'..cause..'"}'
  end
  return '{"callId":"'..callId..'","reason":"'..reason..'"}'
end

-- Ends a call, tells the parties listed, frees both sessions; the call stays readable for a while. A ringing
-- call whose callee never got any of its events (ended by the caller, its session's end or expiry, or the
-- ring time-out; not a reject) becomes one missedCall for the callee instead. A rejected or unanswered
-- call starts the caller's redial cool-down for that callee (cooldownMs > 0).
local function finish(callId, reason, notices, nowIso, retentionMs, cooldownMs)
  local c = P..'c:'..callId
  local cf = redis.call('HMGET', c, 'state', 'caller', 'callee', 'in')
  if cooldownMs and cooldownMs > 0 and (reason == 'rejected' or reason == 'no_answer') then
    redis.call('SET', P..'rd:'..cf[2]..':'..cf[3], 1, 'PX', cooldownMs)
  end
  local missed
  if cf[1] == 'ringing' then
    -- A failed call (the caller's ICE gave up while it rang) collapses like a cancel when the callee never got
    -- it: otherwise ring-then-fail would leave two events per call in an offline callee's mailbox. A callee
    -- that got the incomingCall is told it failed (stopCommunication), and why.
    if reason == 'no_answer' then missed = 'no_answer' elseif reason ~= 'rejected' then missed = 'cancelled' end
  end
  for _, n in ipairs(notices) do
    local s = P..'s:'..n[1]
    if redis.call('EXISTS', s) == 1 then
      local collapsed = false
      if missed and n[1] == cf[3] and num(redis.call('HGET', s, 'sent')) < num(cf[4]) then
        local m = P..'m:'..n[1]
        local mine = {}
        for _, entry in ipairs(redis.call('XRANGE', m, '0-'..cf[4], '+')) do
          if entry[2][8] == callId then mine[#mine + 1] = entry end
        end
        if #mine > 0 then
          undeliver(n[1], mine)
          for _, entry in ipairs(mine) do redis.call('XDEL', m, entry[1]) end
          local json = '{"callId":"'..callId..'","from":'..cjson.encode(cf[2])..',"reason":"'..missed..'","at":"'..nowIso..'"}'
          -- In the caller's share, as the incomingCall it replaces was.
          deliver(n[1], {{'missedCall', json, callId}}, true, 0, 0, cf[2])
          collapsed = true
        end
      end
      if not collapsed then deliver(n[1], {{n[2], n[3], callId}}, true, 0, 0, '') end
    end
  end
  redis.call('HSET', c, 'state', 'ended', 'endReason', reason, 'endedAt', nowIso)
  for _, party in ipairs({cf[2], cf[3]}) do
    local s = P..'s:'..party
    if redis.call('HGET', s, 'call') == callId then redis.call('HDEL', s, 'call') end
  end
  redis.call('ZREM', P..'timers', 'r:'..callId)
  redis.call('SREM', P..'calls', callId)
  redis.call('PEXPIRE', c, retentionMs)
end

-- The call, checked: it exists and name is a party. Returns caller, callee, state.
local function partyCall(name, callId)
  local f = redis.call('HMGET', P..'c:'..callId, 'caller', 'callee', 'state')
  if not f[1] or (f[1] ~= name and f[2] ~= name) then error({err = 'ERR_call_not_found'}) end
  return f[1], f[2], f[3]
end

local function ended(name, reason, nowIso, retentionMs, notice)
  local s = P..'s:'..name
  local f = redis.call('HMGET', s, 'call', 'tok', 'ucount', 'ip')
  local callId = f[1]
  if callId then
    local caller, callee, state = unpack(redis.call('HMGET', P..'c:'..callId, 'caller', 'callee', 'state'))
    if state and state ~= 'ended' then
      local peer = caller
      if name == caller then peer = callee end
      finish(callId, reason, {{peer, 'stopCommunication', stopJson(callId, reason)}}, nowIso, retentionMs, 0)
    end
  end
  local undelivered = num(f[3])
  -- (Lua would send -(0) as "-0", which INCRBY refuses.)
  if undelivered > 0 then redis.call('INCRBY', P..'undelivered', -undelivered) end
  if f[4] and num(redis.call('DECR', P..'ip:'..f[4])) <= 0 then redis.call('DEL', P..'ip:'..f[4]) end
  redis.call('DEL', s, P..'t:'..f[2], P..'m:'..name, P..'b:'..name, P..'u:'..name, P..'bl:'..name)
  redis.call('ZREM', P..'names', name)
  redis.call('ZREM', P..'timers', 'g:'..name)
  redis.call('PUBLISH', P..'w:'..name, notice or 'end')
end
