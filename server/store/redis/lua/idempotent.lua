-- Every script runs as `main()` inside an idempotency wrapper: KEYS[1] is '' (no key) or the record of a
-- request sent with an Idempotency-Key, KEYS[2] how long that record lives (ms). The first run that
-- succeeds stores its reply in the record, in the same atomic step as its writes, so a failover keeps
-- both or neither; a retry under the same key returns that reply and changes nothing, except that it
-- renews the record: a write, so that a WAIT after it also covers the first attempt's writes.

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
