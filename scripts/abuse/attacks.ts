/**
 * The attacks of issue 11, each as a hostile client would run it against a real sigpost process, and the
 * few client pieces they share. Every attack sends only to loopback: the attacker from 127.0.0.2 (and
 * 127.0.0.10+ where it needs many addresses), honest users from 127.0.0.1. Every loop is bounded in time
 * or count and stops by itself. An attack is adaptive: it sends the largest thing the server accepts (a
 * 413 or 400 makes it try the next smaller shape), so it does what an attacker can do under each build's
 * rules, and it counts what the server answered.
 */
import http from 'node:http'
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { SseParser } from '../../bench/lib/http.js'
import { rssBytes } from '../../bench/lib/proc.js'

const HONEST = '127.0.0.1'
const ATTACKER = '127.0.0.2'

/** A running sigpost process. */
export interface Target {
  host: string
  port: number
  pid: number
  /** Everything the process wrote to stdout (its log) so far. */
  log(): string
}

/** Starts a fresh server with these environment variables over the defaults. */
export type Start = (env?: Record<string, string>) => Promise<Target>

export interface Attack {
  /** The row's name in the table. */
  name: string
  /** What the row's figures are. */
  figure: string
  /** What issue 11 asks for. */
  goal: string
  /** Runs the attack and returns the row's cell. */
  run(start: Start): Promise<string>
}

// ---------------------------------------------------------------- client pieces

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })

interface Reply {
  status: number
  /** The error code of a refusal (`mailbox_full`), a network error's code (`ECONNRESET`), or ''. */
  code: string
  data: unknown
  bytes: number
}

/** JSON over HTTP from one client address, as the holder of `token` when it has one. */
class Client {
  constructor(
    readonly target: Target,
    readonly from: string,
    readonly name = '',
    readonly token = '',
  ) {}

  /** Registers `name` from this client's address; throws unless 201. */
  async register(name: string): Promise<Client> {
    const reply = await this.request('POST', '/v1/sessions', { name })
    if (reply.status !== 201) throw new Error(`register ${name}: ${reply.status} ${reply.code}`)
    return new Client(this.target, this.from, name, (reply.data as { token: string }).token)
  }

  post(path: string, body: unknown): Promise<Reply> {
    return this.request('POST', path, body)
  }

  /** `body` is sent as JSON; a string is sent as it is (a body serialised once, or not JSON at all). */
  request(method: string, path: string, body?: unknown): Promise<Reply> {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
    const headers: Record<string, string | number> = {}
    if (this.token) headers.authorization = `Bearer ${this.token}`
    if (data !== undefined) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = Buffer.byteLength(data)
    }
    const { host, port } = this.target
    return new Promise((resolve) => {
      const req = http.request({ host, port, method, path, headers, agent, localAddress: this.from, timeout: 20_000 }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let parsed: unknown
          try {
            parsed = text ? JSON.parse(text) : undefined
          } catch {
            parsed = text
          }
          const code = (parsed as { error?: unknown } | undefined)?.error
          resolve({ status: res.statusCode ?? 0, code: typeof code === 'string' ? code : '', data: parsed, bytes: text.length })
        })
      })
      req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'timeout' })))
      req.on('error', (error: NodeJS.ErrnoException) => resolve({ status: 0, code: error.code ?? error.message, data: undefined, bytes: 0 }))
      req.end(data)
    })
  }

  /** Opens this session's event stream on its own socket. */
  events(query = ''): EventReader {
    return new EventReader(this, `/v1/events${query}`)
  }
}

/** Counts a stream's events by type and their data bytes; `waitFor` resolves on a matching event. */
class EventReader {
  readonly ready: Promise<void>
  /** Data bytes of the session's events (not `ready` or heartbeats). */
  bytes = 0
  private readonly counts = new Map<string, number>()
  private waiters: Array<{ type: string; test: (data: unknown) => boolean; resolve: (data: unknown) => void }> = []
  private readonly req: http.ClientRequest
  private res?: http.IncomingMessage

  constructor(client: Client, path: string) {
    let ready!: () => void
    let failed!: (error: Error) => void
    this.ready = new Promise((resolve, reject) => ((ready = resolve), (failed = reject)))
    this.ready.catch(() => {})
    const parser = new SseParser((e) => {
      if (e.event === 'ready') return ready()
      if (e.event === 'heartbeat') return
      this.counts.set(e.event, (this.counts.get(e.event) ?? 0) + 1)
      this.bytes += e.data.length
      const matching = this.waiters.filter((w) => w.type === e.event)
      if (matching.length === 0) return
      const data: unknown = JSON.parse(e.data)
      for (const w of matching) {
        if (!w.test(data)) continue
        this.waiters = this.waiters.filter((other) => other !== w)
        w.resolve(data)
      }
    })
    const { host, port } = client.target
    const headers: Record<string, string> = { accept: 'text/event-stream' }
    if (client.token) headers.authorization = `Bearer ${client.token}`
    this.req = http.get({ host, port, path, headers, agent: false, localAddress: client.from }, (res) => {
      this.res = res
      if (res.statusCode !== 200) failed(new Error(`stream: ${res.statusCode}`))
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => parser.feed(chunk))
      res.on('close', () => failed(new Error('stream closed before ready')))
    })
    this.req.on('error', (error) => failed(error))
  }

  count(type: string): number {
    return this.counts.get(type) ?? 0
  }

  /** The next event of `type` whose data passes `test` (register it before the request that causes it). */
  waitFor<T>(type: string, test: (data: T) => boolean = () => true, timeoutMs = 10_000): Promise<T> {
    const promise = new Promise<T>((resolve, reject) => {
      const waiter = { type, test: test as (data: unknown) => boolean, resolve: resolve as (data: unknown) => void }
      this.waiters.push(waiter)
      setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        reject(new Error(`no ${type} within ${timeoutMs / 1000} s`))
      }, timeoutMs).unref()
    })
    promise.catch(() => {})
    return promise
  }

  /** Stops reading (a client that holds the connection and never reads), or reads on. */
  pause(): void {
    this.res?.pause()
  }

  close(): void {
    this.req.destroy()
  }
}

/** A registered client with its stream open and ready. */
interface Party {
  client: Client
  stream: EventReader
}

async function party(target: Target, name: string, from = HONEST): Promise<Party> {
  const client = await new Client(target, from).register(name)
  const stream = client.events()
  await stream.ready
  return { client, stream }
}

/** A request written by hand on its own socket, then never read: the answer piles up on the server's side. */
function unreadRequest(target: Target, from: string, path: string, token: string): net.Socket {
  const socket = net.connect({ host: target.host, port: target.port, localAddress: from })
  socket.on('error', () => {})
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`)
  socket.pause()
  return socket
}

/** Counts replies by status (2xx together) and error code: "2xx ×480, 429 mailbox_full ×3", and bytes accepted. */
class Tally {
  /** Request bytes answered 2xx. */
  acceptedBytes = 0
  private readonly counts = new Map<string, number>()
  add(reply: Reply, sentBytes = 0): void {
    const ok = reply.status >= 200 && reply.status < 300
    if (ok) this.acceptedBytes += sentBytes
    const key = ok ? '2xx' : `${reply.status || 'error'} ${reply.code}`.trim()
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
  }

  toString(): string {
    return [...this.counts].map(([key, n]) => `${key} ×${n}`).join(', ') || 'nothing sent'
  }
}

/** Samples the server's resident set every 50 ms and keeps the highest. */
class RssPeak {
  private peak: number
  private readonly timer: NodeJS.Timeout
  constructor(private readonly pid: number) {
    this.peak = rssBytes(pid)
    this.timer = setInterval(() => this.sample(), 50)
  }

  sample(): void {
    try {
      this.peak = Math.max(this.peak, rssBytes(this.pid))
    } catch {
      // The process is gone (the harness reports that); the peak so far stands.
    }
  }

  stop(): number {
    clearInterval(this.timer)
    this.sample()
    return this.peak
  }
}

/** "429 mailbox_full", "201". */
const answer = (reply: Reply) => `${reply.status || 'error'}${reply.code ? ` ${reply.code}` : ''}`
const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`
const MB = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

// ---------------------------------------------------------------- payloads, largest first

const offer = (sdpLength: number) => ({ type: 'offer', sdp: `v=0\r\na=x-pad:${'a'.repeat(sdpLength)}\r\n` })
/** sdp lengths: the old schema's limit (60,000 characters), the new 32 KiB cap, smaller. */
const SDP_LENGTHS = [59_000, 32_600, 16_000, 1_000]

/**
 * A candidate object of about `bytes` as JSON: the candidate line (at most 1,900 characters, which every
 * build's schema takes), and beyond that an unknown field, which a schema without a size cap on the whole
 * object relays as it is.
 */
function candidate(bytes: number) {
  const line = `candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host${' generation 0'.repeat(150)}`.slice(0, Math.min(bytes, 1900))
  return { candidate: line, sdpMid: '0', sdpMLineIndex: 0, ...(bytes > 1900 ? { pad: 'x'.repeat(bytes - 1900) } : {}) }
}
/** `count` candidates of about `bytes` each per request (just under a 64 KiB body), largest events first. */
const BYTE_SHAPES = [{ count: 1, bytes: 60_000 }, { count: 4, bytes: 15_000 }, { count: 30, bytes: 1950 }, { count: 100, bytes: 500 }, { count: 1, bytes: 500 }]
const COUNT_SHAPES = [{ count: 100, bytes: 500 }, { count: 30, bytes: 500 }, { count: 1, bytes: 200 }]
/** From the largest bodies down to one tiny candidate: what fills a mailbox to the brim, in bytes and count. */
const FILL_SHAPES = [...BYTE_SHAPES, { count: 100, bytes: 40 }, { count: 10, bytes: 40 }, { count: 1, bytes: 10 }]
const candidateBodies = (shapes: Array<{ count: number; bytes: number }>) =>
  shapes.map(({ count, bytes }) => JSON.stringify({ candidates: Array.from({ length: count }, () => candidate(bytes)) }))

/**
 * Posts the first of `bodies` again and again until `done(bytes accepted so far)` or `until`: a 413, 400 or
 * candidate_limit moves on to the next (smaller) body, a full mailbox waits a moment (`retryFull`) or ends
 * it, any other refusal (a rate, an ended call) ends it.
 */
async function sendLargest(
  client: Client, path: string, bodies: string[], until: number, tally: Tally,
  options: { done?: (acceptedBytes: number) => boolean; retryFull?: boolean } = {},
): Promise<void> {
  const { done = () => false, retryFull = true } = options
  let shape = 0
  let accepted = 0
  while (shape < bodies.length && !done(accepted) && Date.now() < until) {
    const reply = await client.post(path, bodies[shape])
    tally.add(reply, bodies[shape].length)
    if (reply.status >= 200 && reply.status < 300) accepted += bodies[shape].length
    else if (reply.status === 413 || reply.status === 400 || reply.code === 'candidate_limit') shape++
    else if (reply.code === 'mailbox_full' && retryFull) await sleep(100)
    else return
  }
}

/**
 * Posts each of `bodies` (largest first) as often as the server takes it (at most 50 times), moving on to
 * the next on a 413, 400, full mailbox or candidate_limit: what fills a mailbox that nobody reads to the
 * brim. Any other refusal (a rate, an ended call) ends it.
 */
async function fillUp(client: Client, path: string, bodies: string[], tally: Tally): Promise<void> {
  for (const body of bodies) {
    for (let i = 0; i < 50; i++) {
      const reply = await client.post(path, body)
      tally.add(reply)
      if (reply.status >= 200 && reply.status < 300) continue
      if (reply.status === 413 || reply.status === 400 || reply.code === 'mailbox_full' || reply.code === 'candidate_limit') break
      return
    }
  }
}

/**
 * Calls `to` with the largest offer the server takes, trying `lengths` in turn (a 413, 400 or full mailbox:
 * the next smaller one); the call id and the sdp length taken, or throws with the last refusal.
 */
async function placeCall(caller: Client, to: string, tally?: Tally, lengths = SDP_LENGTHS): Promise<{ callId: string; sdpLength: number }> {
  let last: Reply | undefined
  for (const sdpLength of lengths) {
    last = await caller.post('/v1/calls', { to, sdpOffer: offer(sdpLength) })
    tally?.add(last)
    if (last.status === 201) return { callId: (last.data as { callId: string }).callId, sdpLength }
    if (last.status !== 413 && last.status !== 400 && last.code !== 'mailbox_full') break
  }
  throw new Error(answer(last!))
}

/** An honest call from dial to answer: POST /v1/calls → callee's incomingCall → accept → caller's callResponse. */
async function callSetUp(caller: Party, callee: Party): Promise<number> {
  const started = performance.now()
  const incoming = callee.stream.waitFor<{ from: string }>('incomingCall', (d) => d.from === caller.client.name)
  const placed = await caller.client.post('/v1/calls', { to: callee.client.name, sdpOffer: offer(200) })
  if (placed.status !== 201) throw new Error(`call: ${answer(placed)}`)
  const { callId } = placed.data as { callId: string }
  try {
    await incoming
    const answered = caller.stream.waitFor<{ callId: string }>('callResponse', (d) => d.callId === callId)
    const accepted = await callee.client.post(`/v1/calls/${callId}/accept`, { sdpAnswer: { type: 'answer', sdp: 'v=0\r\n' } })
    if (accepted.status !== 200) throw new Error(`accept: ${answer(accepted)}`)
    await answered
    return performance.now() - started
  } finally {
    await caller.client.request('DELETE', `/v1/calls/${callId}`)
  }
}

// ---------------------------------------------------------------- the attacks

const replay: Attack = {
  name: '1. Replay / non-reading amplification',
  figure: 'server RSS peak − idle while 20 SSE streams and 10 polls that never read replay one session\'s events',
  goal: '≤ 64 MiB',
  async run(start) {
    const target = await start()
    const idle = rssBytes(target.pid)
    const holder = await party(target, 'holder', ATTACKER)
    const feeder = await party(target, 'feeder', ATTACKER)
    const tally = new Tally()
    const { callId } = await placeCall(feeder.client, 'holder', tally)
    tally.add(await holder.client.post(`/v1/calls/${callId}/accept`, { sdpAnswer: { type: 'answer', sdp: 'v=0\r\n' } }))
    // The holder reads everything its accomplice sends (so it is written, and held for replay), up to 15 MB:
    // renegotiation descriptions as large as the server takes, then candidates if those are refused.
    const goal = 15e6
    const until = Date.now() + 12_000
    const enough = () => holder.stream.bytes >= goal
    const descriptions = SDP_LENGTHS.map((length) => JSON.stringify({ description: offer(length) }))
    await sendLargest(feeder.client, `/v1/calls/${callId}/sdp`, descriptions, until, tally, { done: enough })
    await sendLargest(feeder.client, `/v1/calls/${callId}/candidates`, candidateBodies(BYTE_SHAPES), until, tally, { done: enough })
    await sleep(500)
    const received = holder.stream.bytes
    holder.stream.close()
    const held = rssBytes(target.pid)

    const peak = new RssPeak(target.pid)
    const sockets: net.Socket[] = []
    for (let i = 0; i < 20; i++) {
      sockets.push(unreadRequest(target, ATTACKER, '/v1/events', holder.client.token))
      await sleep(100)
    }
    for (let i = 0; i < 10; i++) {
      sockets.push(unreadRequest(target, ATTACKER, '/v1/poll?wait=1', holder.client.token))
      await sleep(100)
    }
    await sleep(3000)
    const top = peak.stop()
    for (const socket of sockets) socket.destroy()
    return `+${MiB(top - idle)} peak (+${MiB(held - idle)} after the fill); ${MB(received)} of events sent to the holder; feeder: ${tally}`
  },
}

const fedVictims: Attack = {
  name: '2. Forty fed victims',
  figure: 'RSS peak − idle while 40 strangers each ring a victim and trickle large candidates, 15 MB each or until refused (at most 15 s; 20 victims read, 20 do not); what one reading victim receives',
  goal: '≤ 128 MiB in all',
  async run(start) {
    const target = await start()
    const victims = await Promise.all(Array.from({ length: 40 }, (_, i) => party(target, `victim-${i}`)))
    victims.slice(20).forEach((v) => v.stream.pause())
    const strangers = await Promise.all(Array.from({ length: 40 }, (_, i) => new Client(target, ATTACKER).register(`stranger-${i}`)))
    const idle = rssBytes(target.pid)
    const peak = new RssPeak(target.pid)
    const bodies = candidateBodies(BYTE_SHAPES)
    const tally = new Tally()
    // 15 MB each: what the old replay window (256 events of up to 60 KB) could hold per victim.
    const began = Date.now()
    await Promise.all(strangers.map(async (stranger, i) => {
      const callId = await placeCall(stranger, `victim-${i}`, tally).then((call) => call.callId, () => undefined)
      if (callId) await sendLargest(stranger, `/v1/calls/${callId}/candidates`, bodies, began + 15_000, tally, { done: (bytes) => bytes >= 15e6 })
    }))
    const sending = Date.now() - began
    await sleep(1000)
    const top = peak.stop()
    const reader = victims[0].stream
    for (const v of victims) v.stream.close()
    return `+${MiB(top - idle)} peak; strangers: ${MB(tally.acceptedBytes)} accepted in ${seconds(sending)} (${tally}); `
      + `a reading victim got ${reader.count('iceCandidate')} iceCandidate (${MB(reader.bytes)})`
  },
}

const slowConnections: Attack = {
  name: '3. Connection exhaustion',
  figure: '3,000 slow connections from 127.0.0.2 (a partial header, a byte every 2 s, for 20 s); an honest client from 127.0.0.1 registers two names and completes a call meanwhile',
  goal: 'honest call completes; most attacker connections refused (MAX_CONNECTIONS_PER_IP 1024)',
  async run(start) {
    const target = await start()
    const sockets: Array<{ socket: net.Socket; closed: boolean }> = []
    // What the server answered on them, if anything ("HTTP/1.1 429 Too Many Requests" ×1976).
    const answers = new Map<string, number>()
    const open = async () => {
      const entry = { socket: net.connect({ host: target.host, port: target.port, localAddress: ATTACKER }), closed: false }
      sockets.push(entry)
      entry.socket.on('error', () => {})
      entry.socket.on('close', () => (entry.closed = true))
      // Read what comes (so a close is seen), counting the status lines.
      entry.socket.setEncoding('utf8').on('data', (chunk: string) => {
        const line = /^HTTP\/1\.1 (\d+)/.exec(chunk)?.[1]
        if (line) answers.set(line, (answers.get(line) ?? 0) + 1)
      })
      await new Promise<void>((resolve) => {
        entry.socket.once('connect', () => {
          entry.socket.write(`GET /healthz HTTP/1.1\r\nHost: ${target.host}\r\nX-Slow: `)
          resolve()
        })
        entry.socket.once('close', () => resolve())
      })
    }
    // 100 connects at a time, so the listen backlog does not turn the attack into SYN retries.
    await Promise.all(Array.from({ length: 100 }, async () => {
      while (sockets.length < 3000) await open()
    }))
    const opened = Date.now()
    const trickle = setInterval(() => sockets.forEach((s) => !s.closed && s.socket.write('a')), 2000)
    await sleep(1000)
    const heldEarly = sockets.filter((s) => !s.closed).length
    let honest: string
    const dialled = performance.now()
    try {
      const callee = await party(target, 'honest-callee')
      const caller = await party(target, 'honest-caller')
      await callSetUp(caller, callee)
      honest = `ok in ${(performance.now() - dialled).toFixed(0)} ms`
      callee.stream.close()
      caller.stream.close()
    } catch (error) {
      honest = `FAILED (${(error as Error).message})`
    }
    // By now a 10 s header time-out, checked every 5 s, has closed every one of them.
    await sleep(Math.max(0, opened + 20_000 - Date.now()))
    clearInterval(trickle)
    const heldLate = sockets.filter((s) => !s.closed).length
    for (const s of sockets) s.socket.destroy()
    const answered = [...answers].map(([status, n]) => `${status} ×${n}`).join(', ') || 'none'
    return `${heldEarly} of 3000 held after opening; honest register ×2 + call: ${honest}; still open 20 s after opening: ${heldLate}; answers on them: ${answered}`
  },
}

/** How long slowBody waits for the server to give up on it. */
const SLOW_BODY_BOUND_MS = 70_000

const slowBody: Attack = {
  name: '4. Slow body',
  figure: 'POST /v1/sessions with Content-Length: 1000, a byte every 5 s: time until the server closes it',
  goal: '≤ 45 s',
  async run(start) {
    const target = await start()
    const socket = net.connect({ host: target.host, port: target.port, localAddress: ATTACKER })
    const began = Date.now()
    let statusLine = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (statusLine ||= chunk.split('\r\n', 1)[0]))
    socket.on('error', () => {})
    socket.write(`POST /v1/sessions HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`)
    const trickle = setInterval(() => socket.write(' '), 5000)
    const closed = await Promise.race([
      new Promise<boolean>((resolve) => socket.once('close', () => resolve(true))),
      sleep(SLOW_BODY_BOUND_MS, false),
    ])
    clearInterval(trickle)
    socket.destroy()
    if (!closed) return `> ${SLOW_BODY_BOUND_MS / 1000} s (still open${statusLine ? `, answered "${statusLine}"` : ''})`
    return `closed after ${seconds(Date.now() - began)} (${statusLine ? `"${statusLine}"` : 'no answer'})`
  },
}

const directory: Attack = {
  name: '5. Directory amplifier',
  figure: '2,000 names online (GRACE_MS=300000 keeps them, however long registering takes); one token hammers GET /v1/sessions?limit=500 (32 in flight, 5 s): bytes and names per 200, answers, honest call set-up p50/p99 (one every 200 ms) idle (3 s) → hammered',
  goal: 'paged (≤ 500 names) and rate-limited; set-up latency unaffected',
  async run(start) {
    const target = await start({ GRACE_MS: '300000' })
    // Registered from 20 addresses (100 each), under any per-address registration rate or session cap.
    await Promise.all(Array.from({ length: 20 }, async (_, a) => {
      const client = new Client(target, `127.0.0.${10 + a}`)
      for (let i = 0; i < 100; i++) await client.register(`dir-${a}-${i}`)
    }))
    const callee = await party(target, 'honest-callee')
    const caller = await party(target, 'honest-caller')
    // An honest pair places a call every 200 ms (well within any per-session send rate).
    const setUps = async (ms: number) => {
      const times: number[] = []
      const failures: string[] = []
      for (const until = Date.now() + ms; Date.now() < until;) {
        const next = sleep(200)
        await callSetUp(caller, callee).then((time) => times.push(time), (error: Error) => failures.push(error.message))
        await next
      }
      const p = (n: number) => percentile(times, n).toFixed(0)
      return `${p(50)}/${p(99)} ms${failures.length > 0 ? ` (${failures.length} of ${times.length + failures.length} failed: ${failures[0]})` : ''}`
    }
    const idle = await setUps(3000)
    const hammer = await new Client(target, ATTACKER).register('hammer')
    const tally = new Tally()
    let okBytes = 0
    let ok = 0
    let names = 0
    const until = Date.now() + 5000
    const hammering = Promise.all(Array.from({ length: 32 }, async () => {
      while (Date.now() < until) {
        const reply = await hammer.request('GET', '/v1/sessions?limit=500')
        tally.add(reply)
        if (reply.status === 200) {
          ok++
          okBytes += reply.bytes
          names = (reply.data as { names: string[] }).names.length
        }
        else if (reply.status === 0) return
      }
    }))
    const busy = await setUps(5000)
    await hammering
    return `${ok ? Math.round(okBytes / ok) : 0} B (${names} names) per 200; hammer: ${tally}; set-up p50/p99 ${idle} idle → ${busy} hammered`
  },
}

const mailboxDos: Attack = {
  name: '6. Mailbox denial of service',
  figure: 'victim\'s stream down; a stranger rings it with candidates (as many as the mailbox takes) and cancels, then runs call/cancel cycles (≤ 300, 10 s); then an honest caller calls',
  goal: 'honest call gets through (missed calls collapse; a sender fills at most half)',
  async run(start) {
    const target = await start()
    const victim = await party(target, 'victim')
    victim.stream.close()
    const stranger = await new Client(target, ATTACKER).register('stranger')
    const tally = new Tally()
    const bodies = candidateBodies(FILL_SHAPES)
    let cycles = 0
    let placed = 0
    let firstRefusal = ''
    let refusedInARow = 0
    // Once an offer of some length was taken, larger ones are not tried again.
    let lengths = SDP_LENGTHS
    for (const until = Date.now() + 10_000; cycles < 300 && refusedInARow < 3 && Date.now() < until; cycles++) {
      let callId: string
      try {
        const call = await placeCall(stranger, 'victim', tally, lengths)
        callId = call.callId
        lengths = SDP_LENGTHS.filter((length) => length <= call.sdpLength)
      } catch (error) {
        firstRefusal ||= `first refused at cycle ${cycles + 1}: ${(error as Error).message}`
        refusedInARow++
        continue
      }
      placed++
      refusedInARow = 0
      // The first time, candidates while it rings, as many as the mailbox takes (down to one tiny one).
      if (placed === 1) await fillUp(stranger, `/v1/calls/${callId}/candidates`, bodies, tally)
      tally.add(await stranger.request('DELETE', `/v1/calls/${callId}`))
    }
    const honest = await new Client(target, HONEST).register('honest')
    const call = await honest.post('/v1/calls', { to: 'victim', sdpOffer: offer(200) })
    // The victim comes back: does the honest call reach it, and what else waits?
    const back = victim.client.events()
    const incoming = back.waitFor<{ from: string }>('incomingCall', (d) => d.from === 'honest', 3000).then(() => true, () => false)
    await back.ready
    const reached = await incoming
    await sleep(300)
    back.close()
    return `stranger placed ${placed} calls in ${cycles} cycles (${firstRefusal || 'never refused'}), sends ${tally}; `
      + `honest call: ${answer(call)}${reached ? ', reached the victim' : ', never reached the victim'}; `
      + `victim on return: ${back.count('missedCall')} missedCall, ${back.count('incomingCall')} incomingCall`
  },
}

const candidateFlood: Attack = {
  name: '7. Candidate flood',
  figure: 'iceCandidate events (and MB) a stranger pushes to a reading victim while ringing (4 requests in flight, until refused or 8 s)',
  goal: '≤ 500 per call',
  async run(start) {
    const target = await start()
    const victim = await party(target, 'victim')
    const stranger = await new Client(target, ATTACKER).register('stranger')
    const tally = new Tally()
    const { callId } = await placeCall(stranger, 'victim', tally)
    const began = Date.now()
    const bodies = candidateBodies(COUNT_SHAPES)
    // Four requests in flight: the order of a flood's candidates does not matter to its sender.
    await Promise.all(Array.from({ length: 4 }, () => sendLargest(stranger, `/v1/calls/${callId}/candidates`, bodies, began + 8000, tally)))
    const sending = Date.now() - began
    // Let the stream catch up (until nothing new arrives for half a second, at most 5 s).
    for (let seen = -1, until = Date.now() + 5000; seen !== victim.stream.count('iceCandidate') && Date.now() < until;) {
      seen = victim.stream.count('iceCandidate')
      await sleep(500)
    }
    victim.stream.close()
    return `${victim.stream.count('iceCandidate')} iceCandidate (${MB(victim.stream.bytes)}) in ${seconds(sending)}; stranger: ${tally}`
  },
}

const deepJson: Attack = {
  name: '8. Deep JSON',
  figure: 'status of POST /v1/calls whose sdpOffer nests 30,000 arrays (60 KB), and 40 (small)',
  goal: '400 invalid_body, never 5xx',
  async run(start) {
    const target = await start()
    await new Client(target, HONEST).register('victim')
    const attacker = await new Client(target, ATTACKER).register('attacker')
    const nested = (depth: number) => `{"to":"victim","sdpOffer":{"type":"offer","sdp":"v=0","x":${'['.repeat(depth)}${']'.repeat(depth)}}}`
    const deep = await attacker.post('/v1/calls', nested(30_000))
    const small = await attacker.post('/v1/calls', nested(40))
    const alive = await attacker.request('GET', '/healthz')
    return `30,000 deep: ${answer(deep)}; 40 deep: ${answer(small)}; /healthz after: ${answer(alive)}`
  },
}

const logs: Attack = {
  name: '9. Log leak and volume',
  figure: 'token in stdout at LOG_LEVEL=info for ?%74oken= and ?token=; log bytes per relayed candidate (400 sent, default configuration)',
  goal: 'no token logged; a few bytes per message (no line per request)',
  async run(start) {
    const info = await start({ LOG_LEVEL: 'info' })
    const spellings = ['%74oken', 'token']
    const leaks: string[] = []
    for (const spelling of spellings) {
      const client = await new Client(info, ATTACKER).register(`leak-${spelling.replace('%', '')}`)
      const stream = new EventReader(new Client(info, ATTACKER), `/v1/events?${spelling}=${client.token}`)
      const opened = await stream.ready.then(() => 'opened', (error: Error) => error.message)
      stream.close()
      await sleep(200)
      leaks.push(`?${spelling}= (${opened}): ${info.log().includes(client.token) ? 'LOGGED' : 'not logged'}`)
    }

    const target = await start()
    const callee = await party(target, 'callee')
    const caller = await party(target, 'caller')
    const { callId } = await placeCall(caller.client, 'callee')
    await callee.client.post(`/v1/calls/${callId}/accept`, { sdpAnswer: { type: 'answer', sdp: 'v=0\r\n' } })
    await sleep(200)
    const before = Buffer.byteLength(target.log())
    const messages = 400
    for (let i = 0; i < messages; i++) await caller.client.post(`/v1/calls/${callId}/candidates`, { candidate: candidate(120) })
    await sleep(500)
    const perMessage = (Buffer.byteLength(target.log()) - before) / messages
    const relayed = callee.stream.count('iceCandidate')
    return `${leaks.join('; ')}; ${perMessage.toFixed(0)} log bytes per relayed message (${relayed} of ${messages} relayed)`
  },
}

const bogusBearer: Attack = {
  name: '10. Unauthenticated flood (issue 22)',
  figure: 'one address sends GET /v1/calls/<token-like id> with a fresh bogus Bearer each time, 32 in flight for 5 s (default configuration): answers, log bytes a second, whether the path reached the log, honest call set-up p50/p99 meanwhile (one every 200 ms)',
  goal: 'limited per address (RATE_UNAUTHENTICATED_PER_WINDOW, 600 a minute), logged once a minute with a count; no path in the log; set-up unaffected',
  async run(start) {
    const target = await start()
    const callee = await party(target, 'honest-callee')
    const caller = await party(target, 'honest-caller')
    const secretPath = `/v1/calls/${'S3cr3tT0k3n'.repeat(4)}`
    const tally = new Tally()
    const before = Buffer.byteLength(target.log())
    const began = Date.now()
    const until = began + 5000
    let n = 0
    const flooding = Promise.all(Array.from({ length: 32 }, async () => {
      while (Date.now() < until) {
        const reply = await new Client(target, ATTACKER, '', `bogus-${n++}`).request('GET', secretPath)
        tally.add(reply)
        if (reply.status === 0) return
      }
    }))
    const times: number[] = []
    while (Date.now() < until) {
      const next = sleep(200)
      await callSetUp(caller, callee).then((time) => times.push(time), () => {})
      await next
    }
    await flooding
    await sleep(200)
    const logBytes = (Buffer.byteLength(target.log()) - before) / ((Date.now() - began) / 1000)
    const leaked = target.log().includes('S3cr3tT0k3n') ? 'path LOGGED' : 'path not logged'
    const p = (k: number) => percentile(times, k).toFixed(0)
    return `${tally}; ${(logBytes / 1024).toFixed(1)} KiB of log a second; ${leaked}; honest set-up p50/p99 ${p(50)}/${p(99)} ms`
  },
}

export const attacks: Attack[] = [replay, fedVictims, slowConnections, slowBody, directory, mailboxDos, candidateFlood, deepJson, logs, bogusBearer]
