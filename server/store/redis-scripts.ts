/**
 * The Redis store's steps as Lua scripts: each runs atomically in Redis, so any instance may serve any
 * request. The rules are the in-memory store's (memory.ts + mailbox.ts), written for Redis:
 *
 *   {p}s:<name>    hash   tok, created, ip, call, stream, graceAt, last (last id), sent (highest id written
 *                         to a stream), ucount / ubytes (undelivered events / bytes), rbytes (bytes of
 *                         written events held for replay), mc (sigpost_may_call as JSON, verified names)
 *   {p}bl:<name>   set    names this session blocks (deleted with the session)
 *   {p}rd:<caller>:<callee> string  the caller's redial cool-down for that callee (PX)
 *   {p}tk:<hash>   string a stream ticket: the token hash of its session (PX; GETDEL uses it up)
 *   {p}t:<hash>    string the name whose token hashes to <hash>
 *   {p}names       zset   live names, all with score 0 (ordered by name for the paged directory)
 *   {p}ip:<addr>   string live sessions registered from that address
 *   {p}u:<name>    hash   undelivered events (c:<sender>) and bytes (b:<sender>) per sender
 *   {p}m:<name>    stream the mailbox: entry id 0-<n> (n = the event id), fields e (event), j (json),
 *                         f (sender; '' for the server's own notices) and c (call id, or '')
 *   {p}b:<name>    list   "<id>:<ms>": events up to <id> were written to a stream at <ms> (replay age)
 *   {p}c:<callId>  hash   caller, callee, state, createdAt, answeredAt, endedAt, endReason, endCause, in (the id of
 *                         the callee's incomingCall), n:caller / n:callee (candidates relayed)
 *   {p}calls       set    call ids that are ringing or active
 *   {p}timers      zset   g:<name> (grace) and r:<callId> (ring) by due time; claimed by any instance
 *   {p}undelivered string  undelivered events, all mailboxes
 *   {p}w:<name>    channel "wake" | "attach:<streamId>" | "end" | "replace" (taken over), to the instance holding the stream
 *
 *   {p}i:<scope>   string the reply of a request sent with an Idempotency-Key (see IDEMPOTENT below)
 *
 * Errors come back as `ERR_<code>` replies that the store turns into ApiErrors.
 */

const COMMON = `
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
`

/**
 * Every script runs as `main()` inside an idempotency wrapper: KEYS[1] is '' (no key) or the record of a
 * request sent with an Idempotency-Key, KEYS[2] how long that record lives (ms). The first run that
 * succeeds stores its reply in the record, in the same atomic step as its writes, so a failover keeps
 * both or neither; a retry under the same key returns that reply and changes nothing, except that it
 * renews the record: a write, so that a WAIT after it also covers the first attempt's writes.
 */
const IDEMPOTENT = `
local record = KEYS[1]
if record == '' then return main() end
local kept = redis.call('GET', record)
if kept then
  redis.call('PEXPIRE', record, KEYS[2])
  return cjson.decode(kept)
end
local result = main()
if type(result) == 'table' and result.err then return result end
redis.call('SET', record, cjson.encode(result), 'PX', KEYS[2])
return result
`

function script(body: string): string {
  return `${COMMON}\nlocal function main()\n${body}\nend\n${IDEMPOTENT}`
}

export const SCRIPTS = {
  /**
   * ARGV: p, name, tokenHash, nowMs, graceMs, ip, maxSessionsPerIp, takeOver (1|0), mayCallJson ('' none),
   * nowIso, retentionMs. A take-over ends the older session first (its call ends as peer_gone, its stream
   * is told "replace"); the older session's place counts as free for the address limit.
   */
  register: script(`
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
return now`),

  /** ARGV: p, tokenHash → {name, created, mayCallJson|false} or nil */
  find: script(`
local name = redis.call('GET', P..'t:'..ARGV[2])
if not name then return nil end
local f = redis.call('HMGET', P..'s:'..name, 'tok', 'created', 'mc')
if f[1] ~= ARGV[2] then return nil end
return {name, f[2], f[3]}`),

  /** ARGV: p, name, reason, nowIso, retentionMs, nowMs, onlyIfExpired (1|0) → 1 if ended */
  endSession: script(`
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
return 1`),

  /**
   * ARGV: p, name, after (-1: none), streamId, nowMs, leaseMs → cursor, or -1 when the session is gone.
   * The session is kept for the stream's lease (renewed by touch) and graceMs after it detaches.
   */
  attach: script(`
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
return cursor`),

  /**
   * ARGV: p, name, streamId, cursor, count, maxBytes, nowMs, replayMaxEvents, replayMaxBytes, replayMaxAgeMs
   * → {more (1|0), entries...}: the entries after cursor (at most count, and about maxBytes: always at
   * least one; more = 1 when that cut the batch short), or nil when no longer the live stream.
   * What it returns is marked as written to the stream in the same step (issue 23: one script and one
   * round trip per batch instead of a read and a `sent`): the stream hands the batch to its socket in the
   * same tick, and a socket that cannot take it was a client already gone, whose resume finds the events
   * in the replay window, as it finds any written events a dying connection never delivered.
   */
  read: script(`
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
return entries`),

  /**
   * ARGV: p, name, streamId, nowMs, graceMs, detach|keep, replayMaxEvents, replayMaxBytes, replayMaxAgeMs —
   * detach, or renew the lease (touch, on every heartbeat) with graceMs = lease; a touch also applies the
   * replay window's age while nothing new arrives.
   */
  detach: script(`
local name, streamId, now, grace, keep = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] == 'keep'
local s = P..'s:'..name
if redis.call('HGET', s, 'stream') ~= streamId then return 0 end
if keep then trim(name, now, tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])) else redis.call('HDEL', s, 'stream') end
redis.call('HSET', s, 'graceAt', now + grace)
redis.call('ZADD', P..'timers', now + grace, 'g:'..name)
return 1`),

  /** ARGV: p, caller, callee, callId, nowMs, nowIso, ringMs, incomingJson, maxEvents, maxBytes */
  createCall: script(`
local caller, callee, callId, now, nowIso, ring, incoming, maxE, maxB = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10])
local from, to = P..'s:'..caller, P..'s:'..callee
if redis.call('EXISTS', from) == 0 then return redis.error_reply('ERR_unauthorized') end
if redis.call('EXISTS', to) == 0 then return redis.error_reply('ERR_peer_not_found') end
-- A block answers exactly as an absent callee does, and wins over every other answer.
if redis.call('SISMEMBER', P..'bl:'..callee, caller) == 1 then return redis.error_reply('ERR_peer_not_found') end
local cooldown = redis.call('PTTL', P..'rd:'..caller..':'..callee)
if cooldown > 0 then return redis.error_reply('ERR_cooldown:'..cooldown) end
if redis.call('HEXISTS', from, 'call') == 1 then return redis.error_reply('ERR_busy_self') end
if redis.call('HEXISTS', to, 'call') == 1 then return redis.error_reply('ERR_busy') end
local delivered = deliver(callee, {{'incomingCall', incoming, callId}}, false, maxE, maxB, caller)
if delivered ~= true then return refused(delivered) end
local inId = redis.call('HGET', to, 'last')
redis.call('HSET', P..'c:'..callId, 'callId', callId, 'caller', caller, 'callee', callee, 'state', 'ringing', 'createdAt', nowIso, 'in', inId)
redis.call('HSET', from, 'call', callId)
redis.call('HSET', to, 'call', callId)
redis.call('SADD', P..'calls', callId)
redis.call('ZADD', P..'timers', now + ring, 'r:'..callId)
return redis.call('HGETALL', P..'c:'..callId)`),

  /** ARGV: p, name, callId, nowIso, responseJson, startJson, maxEvents, maxBytes */
  acceptCall: script(`
local name, callId, nowIso, response, start, maxE, maxB = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])
local caller, callee, state = partyCall(name, callId)
if name ~= callee then return redis.error_reply('ERR_forbidden_accept') end
if state ~= 'ringing' then return redis.error_reply('ERR_invalid_state:'..state) end
local delivered = deliver(caller, {{'callResponse', response, callId}}, false, maxE, maxB, name)
if delivered ~= true then return refused(delivered) end
deliver(callee, {{'startCommunication', start, callId}}, true, 0, 0, '')
redis.call('HSET', P..'c:'..callId, 'state', 'active', 'answeredAt', nowIso)
redis.call('ZREM', P..'timers', 'r:'..callId)
return redis.call('HGETALL', P..'c:'..callId)`),

  /** ARGV: p, name, callId, nowIso, retentionMs, rejectedJson, cooldownMs, block (1|0), maxBlocks */
  rejectCall: script(`
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
return redis.call('HGETALL', P..'c:'..callId)`),

  /** ARGV: p, name, callId, kind (candidates|sdp), maxEvents, maxBytes, maxCandidatesPerCall, json... */
  relay: script(`
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
return 1`),

  /**
   * ARGV: p, name, callId, nowIso, retentionMs, cooldownMs, failed ('1' or ''), cause ('' when unknown)
   * → 1 ended now, 0 already ended
   */
  endCall: script(`
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
return 1`),

  /** ARGV: p, callId, nowIso, retentionMs, cooldownMs — the ring time-out */
  ringTimeout: script(`
local callId, nowIso, retention, cooldown = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local f = redis.call('HMGET', P..'c:'..callId, 'caller', 'callee', 'state')
if f[3] ~= 'ringing' then
  redis.call('ZREM', P..'timers', 'r:'..callId)
  return 0
end
local notice = stopJson(callId, 'no_answer')
finish(callId, 'no_answer', {{f[1], 'stopCommunication', notice}, {f[2], 'stopCommunication', notice}}, nowIso, retention, cooldown)
return 1`),

  /** ARGV: p, name, blocked, maxBlocks — block (idempotent) */
  block: script(`
local name, blocked, maxBlocks = ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('EXISTS', P..'s:'..name) == 0 then return redis.error_reply('ERR_unauthorized') end
local bl = P..'bl:'..name
if redis.call('SISMEMBER', bl, blocked) == 1 then return 0 end
if redis.call('SCARD', bl) >= maxBlocks then return redis.error_reply('ERR_block_limit') end
return redis.call('SADD', bl, blocked)`),

  /** ARGV: p, name, blocked ('' lists) — unblock (idempotent), or list with '' */
  blocks: script(`
local name, blocked = ARGV[2], ARGV[3]
if redis.call('EXISTS', P..'s:'..name) == 0 then return redis.error_reply('ERR_unauthorized') end
if blocked ~= '' then return redis.call('SREM', P..'bl:'..name, blocked) end
return redis.call('SMEMBERS', P..'bl:'..name)`),

  /**
   * ARGV: p, nowMs, max, retryMs → due timer members. A claimed timer is pushed retryMs later rather than
   * removed: the script it fires removes or reschedules it, and if the claiming instance dies first,
   * another instance claims it again.
   */
  claimTimers: script(`
local now, retry = tonumber(ARGV[2]), tonumber(ARGV[4])
local due = redis.call('ZRANGEBYSCORE', P..'timers', '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do redis.call('ZADD', P..'timers', now + retry, member) end
return due`),
} as const

export type ScriptName = keyof typeof SCRIPTS
