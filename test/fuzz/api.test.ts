/**
 * Generated traffic over the whole API (bodies, headers, content types, ids, and the order of call steps
 * across three sessions), against a real server on the store named by SIGPOST_TEST_STORE:
 * never a 5xx, never a crash, and the invariants hold (a session in at most one call, event ids strictly
 * increasing, every candidate of a 2xx send delivered exactly once, to the other party only, unless its
 * call reached the callee as one missedCall). Oversized descriptions and candidates are among the bodies.
 */
import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import t from 'tap'
import { startServer } from '../helpers/server.js'
import { request, type Res } from '../helpers/client.js'
import { mintHs256 } from '../helpers/jwks.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 100)
/**
 * Every run logs its seed; FUZZ_SEED=<seed> replays the same sequences, and FUZZ_PATH=<path> (from the
 * failure's "path") goes straight to the failing one and its shrinking.
 */
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 0x7fffffff)
const PATH = process.env.FUZZ_PATH || undefined
const store = process.env.SIGPOST_TEST_STORE ?? 'memory'
/** SIGPOST_FUZZ_VERIFIED=1 (test/fuzz/api-verified.test.ts): names come from HS256 JWTs. */
const verified = process.env.SIGPOST_FUZZ_VERIFIED === '1'
const SECRET = 'fuzz-suite-shared-secret-0123456789abcdef'

const who = fc.integer({ min: 0, max: 2 })
const callRef = fc.constantFrom('current', 'current', 'current', 'other', 'bogus')
const sdpBody = fc.oneof(
  fc.constant('valid'),
  fc.constantFrom('missing', 'wrong-type', 'wrong-kind', 'huge'),
)
const action = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('call'), by: who, to: fc.oneof(who, fc.constant(-1)), body: sdpBody }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('accept'), by: who, ref: callRef, body: sdpBody }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reject'), by: who, ref: callRef, reason: fc.oneof(fc.string({ maxLength: 40 }), fc.constant(undefined)) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('candidates'), by: who, ref: callRef, n: fc.integer({ min: 0, max: 4 }), single: fc.boolean(), end: fc.boolean(), huge: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sdp'), by: who, ref: callRef, type: fc.constantFrom('offer', 'answer', 'pranswer') }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('hangup'), by: who, ref: callRef }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('get'), by: who, ref: callRef }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('poll'), by: who }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('register'),
      name: fc.oneof(fc.string({ maxLength: 70 }), fc.stringMatching(/^[a-z][a-z0-9._-]{0,10}$/)),
      // Verified mode: a JWT for that name, for another one, a forged or broken one, or none.
      jwt: fc.constantFrom('valid', 'valid', 'other', 'forged', 'garbage', 'none'),
      inBody: fc.boolean(),
      takeOver: fc.boolean(),
    }),
  },
  // Nesting around the 32-level limit, and far past it (a 30,000-deep sdpOffer once answered 500).
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deepCall'), by: who, to: who, depth: fc.oneof(fc.integer({ min: 28, max: 36 }), fc.constantFrom(1_000, 30_000)), arrays: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('garbage'),
      method: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS'),
      path: fc.oneof(
        fc.constantFrom('/v1/sessions', '/v1/sessions/current', '/v1/calls', '/v1/calls/x/accept', '/v1/calls/x/candidates', '/v1/calls/x/sdp', '/v1/calls/x', '/v1/poll?wait=-1', '/v1/poll?after=abc', '/v1/poll?wait=0&after=99999999999', '/v1/ice-servers', '/metrics', '/nope',
          '/v1/blocks', '/v1/blocks/x', '/v1/blocks/%00', '/v1/stream-tickets', '/v1/events?ticket=garbage', '/v1/poll?wait=0&ticket=x&token=y'),
        fc.string({ maxLength: 30 }).map((s) => `/v1/${encodeURIComponent(s)}`),
      ),
      contentType: fc.constantFrom(undefined, 'application/json', 'text/plain', 'application/json; charset=utf-8', 'multipart/form-data', 'application/x-www-form-urlencoded', 'application/json;;'),
      body: fc.oneof(
        fc.json({ maxDepth: 3 }), fc.string({ maxLength: 200 }), fc.constant(undefined), fc.constant('{"__proto__":{"admin":true}}'),
        fc.integer({ min: 30, max: 30_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
        fc.integer({ min: 30, max: 5_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
      ),
      auth: fc.oneof(who, fc.constantFrom('none', 'garbage', 'basic')),
    }),
  },
)

interface Tracked {
  name: string
  token: string
  lastId: number
  ids: number[]
  candidates: string[]
  /** Calls that reached this session as a missedCall (their candidates never do). */
  missed: Set<string>
}

t.test(`${RUNS} generated sequences on the ${store} store${verified ? ', verified names' : ''}`, async (t) => {
  const { url } = await startServer(t, { rateRegisterPerWindow: 1e9, rateSendPerWindow: 1e9, ...(verified ? { authJwtSecret: SECRET } : {}) })
  const credentials = async (name: string): Promise<Record<string, string>> =>
    verified ? { authorization: `Bearer ${await mintHs256(SECRET, { sub: name })}` } : {}
  let requests = 0
  const statuses = new Map<number, number>()
  const send = async (method: string, path: string, options: Parameters<typeof request>[3] = {}): Promise<Res> => {
    requests++
    const res = await request(url, method, path, options)
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
    if (res.status >= 500) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(res.body)}`)
    if (res.status >= 400 && (typeof res.body?.error !== 'string' || typeof res.body?.message !== 'string')) {
      throw new Error(`${method} ${path} answered ${res.status} without the error shape: ${JSON.stringify(res.body)}`)
    }
    return res
  }

  const replay = `FUZZ_SEED=${SEED}${store === 'memory' ? '' : ` SIGPOST_TEST_STORE=${store}`} npx tap test/fuzz/${verified ? 'api-verified' : 'api'}.test.ts`
  t.comment(`seed ${SEED}: \`${replay}\` replays this run`)
  // No minimum length: a failing sequence shrinks to the few actions that matter.
  await fc.assert(fc.asyncProperty(fc.array(action, { maxLength: 130, size: 'max' }), async (actions) => {
    const run = randomUUID().slice(0, 8)
    const sessions: Tracked[] = []
    for (const who of ['a', 'b', 'c']) {
      const res = await send('POST', '/v1/sessions', { body: { name: `${who}-${run}` }, headers: await credentials(`${who}-${run}`) })
      sessions.push({ name: res.body.name, token: res.body.token, lastId: 0, ids: [], candidates: [], missed: new Set() })
    }
    const calls: Array<{ callId: string; caller: number; callee: number }> = []
    const expected = new Map<string, { recipient: number; callId: string }>() // candidate marker → where it goes
    const current = (i: number) => calls.filter((c) => c.caller === i || c.callee === i).at(-1)?.callId
    const pick = (i: number, ref: string) =>
      ref === 'current' ? current(i) ?? 'none' : ref === 'other' ? calls.find((c) => c.caller !== i && c.callee !== i)?.callId ?? calls[0]?.callId ?? 'none' : 'bogus-id'
    const offer = (variant: string) =>
      variant === 'valid' ? { type: 'offer', sdp: 'v=0\r\n' } : variant === 'wrong-type' ? { type: 'offer', sdp: 7 } : variant === 'wrong-kind' ? { type: 'answer', sdp: 'v=0' }
        : variant === 'huge' ? { type: 'offer', sdp: 'x'.repeat(33 * 1024) } : undefined
    const drain = async (i: number) => {
      const s = sessions[i]
      const res = await send('GET', `/v1/poll?wait=0${s.lastId ? `&after=${s.lastId}` : ''}`, { token: s.token })
      for (const e of res.body.events) {
        s.ids.push(Number(e.id))
        s.lastId = Number(e.id)
        if (e.event === 'iceCandidate' && e.data.candidate) s.candidates.push(e.data.candidate.candidate)
        if (e.event === 'missedCall') s.missed.add(e.data.callId)
      }
    }

    for (const a of actions as any[]) {
      const me = sessions[a.by ?? 0]
      const token = me.token
      switch (a.kind) {
        case 'call': {
          const to = a.to === -1 ? `ghost-${run}` : sessions[a.to].name
          const res = await send('POST', '/v1/calls', { token, body: { to, sdpOffer: offer(a.body), from: sessions[(a.by + 1) % 3].name } })
          if (res.status === 201) calls.push({ callId: res.body.callId, caller: a.by, callee: a.to })
          break
        }
        case 'accept': {
          const body = { sdpAnswer: a.body === 'valid' ? { type: 'answer', sdp: 'v=0\r\n' } : offer(a.body) }
          await send('POST', `/v1/calls/${pick(a.by, a.ref)}/accept`, { token, body })
          break
        }
        case 'reject':
          await send('POST', `/v1/calls/${pick(a.by, a.ref)}/reject`, { token, body: a.reason === undefined ? {} : { reason: a.reason } })
          break
        case 'candidates': {
          const callId = pick(a.by, a.ref)
          const padding = a.huge ? ` ${'x'.repeat(2100)}` : ''
          const markers = Array.from({ length: a.single ? 1 : a.n }, () => `candidate:${randomUUID()} 1 udp 1 127.0.0.1 9 typ host${padding}`)
          const list: unknown[] = markers.map((candidate) => ({ candidate, sdpMid: '0', sdpMLineIndex: 0 }))
          if (a.end) list.push(null)
          const body = a.single ? { candidate: list[0] ?? null } : { candidates: list }
          const res = await send('POST', `/v1/calls/${callId}/candidates`, { token, body })
          if (res.status === 202) {
            const call = calls.find((c) => c.callId === callId)!
            const recipient = call.caller === a.by ? call.callee : call.caller
            for (const m of markers) expected.set(m.split(' ')[0].slice(10), { recipient, callId })
          }
          break
        }
        case 'sdp':
          await send('POST', `/v1/calls/${pick(a.by, a.ref)}/sdp`, { token, body: { description: { type: a.type, sdp: 'v=0\r\n' } } })
          break
        case 'hangup':
          await send('DELETE', `/v1/calls/${pick(a.by, a.ref)}`, { token })
          break
        case 'get':
          await send('GET', `/v1/calls/${pick(a.by, a.ref)}`, { token })
          break
        case 'poll':
          await drain(a.by)
          break
        case 'deepCall': {
          // The body is level 1 and sdpOffer level 2: `depth` more levels inside it make depth + 2 in all.
          const inner = a.arrays ? '['.repeat(a.depth) + ']'.repeat(a.depth) : '{"x":'.repeat(a.depth) + '1' + '}'.repeat(a.depth)
          const raw = `{"to":${JSON.stringify(sessions[a.to].name)},"sdpOffer":{"type":"offer","sdp":"v=0\\r\\n","extra":${inner}}}`
          const res = await send('POST', '/v1/calls', { token, raw, headers: { 'content-type': 'application/json' } })
          const tooDeep = res.body?.error === 'invalid_body' && /deeper than 32/.test(res.body.message)
          if (a.depth + 2 > 32 && res.status !== 413 && !tooDeep) throw new Error(`${a.depth + 2} levels answered ${res.status} ${res.body.error}`)
          if (a.depth + 2 <= 32 && tooDeep) throw new Error(`${a.depth + 2} levels refused as too deep`)
          if (res.status === 201) calls.push({ callId: res.body.callId, caller: a.by, callee: a.to })
          break
        }
        case 'register': {
          // Never one of the tracked names (a take-over of those would end a tracked session).
          const name = /^[abc]-/.test(a.name) ? `x${a.name}` : a.name
          const headers: Record<string, string> = {}
          if (a.jwt === 'valid') Object.assign(headers, await credentials(name))
          else if (a.jwt === 'other') Object.assign(headers, await credentials(`other-${run}`))
          else if (a.jwt === 'forged') headers.authorization = `Bearer ${await mintHs256('not-the-secret-not-the-secret-not', { sub: name })}`
          else if (a.jwt === 'garbage') headers.authorization = `Bearer ${name}`
          const body = { ...(a.inBody || !verified ? { name } : {}), ...(a.takeOver ? { takeOver: true } : {}) }
          await send('POST', '/v1/sessions', { body, headers })
          break
        }
        case 'garbage': {
          const headers: Record<string, string> = {}
          if (a.contentType) headers['content-type'] = a.contentType
          // A stream opened with a tracked session's header would stay open (and replace its stream).
          if (typeof a.auth === 'number' && !a.path.startsWith('/v1/events')) headers.authorization = `Bearer ${sessions[a.auth].token}`
          else if (a.auth === 'garbage') headers.authorization = 'Bearer x'
          else if (a.auth === 'basic') headers.authorization = 'Basic YTpi'
          // A tracked session's own poll is left to the tracking client (a garbage cursor would replay).
          // and a tracked session is not ended by garbage (its own DELETE is the last step).
          const path = a.path.startsWith('/v1/poll') && typeof a.auth === 'number' ? '/v1/poll?wait=soon' : a.path
          const method = path === '/v1/sessions/current' && typeof a.auth === 'number' && a.method === 'DELETE' ? 'GET' : a.method
          const raw = a.body === undefined || method === 'GET' || method === 'HEAD' ? undefined : typeof a.body === 'string' ? a.body : JSON.stringify(a.body)
          await send(method, path, { headers, raw })
          break
        }
      }
    }

    for (let i = 0; i < 3; i++) await drain(i)
    for (const [i, s] of sessions.entries()) {
      if (!s.ids.every((id, k) => k === 0 || id > s.ids[k - 1])) throw new Error(`${s.name}: ids not increasing: ${s.ids}`)
      const mine = [...expected].filter(([, to]) => to.recipient === i && !s.missed.has(to.callId)).map(([m]) => m)
      const got = s.candidates.map((c) => c.split(' ')[0].slice(10)).filter((m) => !s.missed.has(expected.get(m)?.callId ?? ''))
      if (got.length !== new Set(got).size) throw new Error(`${s.name}: a candidate delivered twice`)
      if (got.length !== mine.length || !mine.every((m) => got.includes(m))) {
        throw new Error(`${s.name}: expected ${mine.length} candidates, received ${got.length}`)
      }
      let open = 0
      for (const c of calls.filter((c) => c.caller === i || c.callee === i)) {
        const res = await send('GET', `/v1/calls/${c.callId}`, { token: s.token })
        if (res.body.state !== 'ended') open++
      }
      if (open > 1) throw new Error(`${s.name} is in ${open} calls`)
    }
    for (const s of sessions) await send('DELETE', '/v1/sessions/current', { token: s.token })
  }), { numRuns: RUNS, seed: SEED, path: PATH })

  // Sequences average about 65 actions, each one request or more (and each run registers three).
  t.ok(requests >= 50 * RUNS, `${requests} requests in ${RUNS} runs`)
  t.comment(`${store}${verified ? ' (verified names)' : ''}: ${requests} requests; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`)
  t.equal((await request(url, 'GET', '/healthz')).status, 200, 'the server is up')
})
