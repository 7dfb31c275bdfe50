/**
 * `npm run failover [-- --runs 3 --pairs 10 --messages 4000]`: the figures of docs/operations.md's "No single
 * Redis" section, on real processes (redis-server, redis-sentinel, sigpost) on loopback ports:
 *
 *  1. Failover as clients see it: a primary, a replica, three sentinels, two sigpost instances, `pairs`
 *     calls with steady candidate traffic both ways (each send retried with its Idempotency-Key until
 *     acknowledged), kill -9 of the primary, the old node back as a replica once the sentinels promoted the
 *     other. Per REDIS_MIN_REPLICAS (0 and 1): the window from the first 503 to the next 2xx, and how many
 *     acknowledged candidates never arrived (lost) or arrived twice.
 *  2. The cost of WAIT: the same relay load on one instance without a failover, REDIS_MIN_REPLICAS=0
 *     against 1: latency of a send (p50/p99), send → arrival on the peer's stream, CPU of sigpost and of
 *     the primary per 1,000 relayed candidates.
 *
 * Prints markdown tables. Not part of `npm test` (it takes a few minutes).
 */
import http from 'node:http'
import { readFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { startInstance, type Instance } from '../test/helpers/instances.js'
import { startSentinelGroup, type SentinelGroup } from '../test/helpers/sentinel.js'
import { SseClient, type SseEvent } from '../test/helpers/client.js'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    pairs: { type: 'string', default: '10' },
    messages: { type: 'string', default: '4000' },
    /** Link cuts to run the failover with, in ms before the kill (0: a replica in sync). */
    lags: { type: 'string', default: '0,300' },
    cost: { type: 'string', default: 'yes' },
  },
})
process.setMaxListeners(100) // one exit handler per started group
const RUNS = Number(values.runs)
const PAIRS = Number(values.pairs)
const MESSAGES = Number(values.messages)
const agent = new http.Agent({ keepAlive: true, maxSockets: 512 })

interface Res { status: number; body: any }

function send(base: string, method: string, path: string, token?: string, body?: unknown, key?: string): Promise<Res> {
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : JSON.stringify(body)
    const headers: Record<string, string> = {}
    if (token) headers.authorization = `Bearer ${token}`
    if (data) headers['content-type'] = 'application/json'
    if (key) headers['idempotency-key'] = key
    const req = http.request(`${base}${path}`, { method, headers, agent }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => (text += chunk))
      res.on('end', () => {
        let parsed: unknown
        try { parsed = text ? JSON.parse(text) : undefined } catch {}
        resolve({ status: res.statusCode ?? 0, body: parsed })
      })
    })
    req.on('error', () => resolve({ status: 0, body: undefined }))
    req.end(data)
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

class Teardowns {
  private fns: Array<() => unknown> = []
  teardown(fn: () => unknown) { this.fns.push(fn) }
  async run() { for (const fn of this.fns.reverse()) await fn(); this.fns = [] }
}

interface Pair { caller: { name: string; token: string }; callee: { name: string; token: string }; callId: string; stream: SseClient }

async function setUpPairs(instances: Instance[], count: number): Promise<Pair[]> {
  const pairs: Pair[] = []
  for (let i = 0; i < count; i++) {
    const at = (n: number) => instances[n % instances.length].url
    const names = [`caller-${i}`, `callee-${i}`]
    const [caller, callee] = await Promise.all(names.map(async (name, j) => {
      const res = await send(at(i + j), 'POST', '/v1/sessions', undefined, { name })
      if (res.status !== 201) throw new Error(`register ${name}: ${res.status}`)
      return { name, token: res.body.token as string }
    }))
    const stream = new SseClient(at(i + 1), { token: callee.token })
    await stream.opened
    await stream.next() // ready
    const call = await send(at(i), 'POST', '/v1/calls', caller.token, { to: callee.name, sdpOffer: { type: 'offer', sdp: 'v=0\r\n' } })
    await send(at(i + 1), 'POST', `/v1/calls/${call.body.callId}/accept`, callee.token, { sdpAnswer: { type: 'answer', sdp: 'v=0\r\n' } })
    pairs.push({ caller, callee, callId: call.body.callId, stream })
  }
  return pairs
}

const candidate = (n: number, sentAt = 0) => ({ candidate: `candidate:${n} 1 udp 2122260223 127.0.0.1 ${50000 + (n % 10000)} typ host`, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: String(sentAt) })

/** Events of a stream until end-of-candidates, or until it has been silent for `quietMs`. */
async function drain(stream: SseClient, quietMs: number): Promise<SseEvent[]> {
  const got: SseEvent[] = []
  for (;;) {
    const next = await Promise.race([stream.next(), sleep(quietMs).then(() => undefined)])
    if (!next) return got
    if (next.event !== 'iceCandidate') continue
    got.push(next)
    if (next.data.candidate === null) return got
  }
}

async function failoverRun(minReplicas: number, lagMs: number): Promise<{ windowMs: number; acked: number; lost: number; duplicates: number; refused: number; other: number[] }> {
  const t = new Teardowns()
  try {
    const group: SentinelGroup = await startSentinelGroup(t)
    const env = { REDIS_SENTINELS: group.sentinels, REDIS_SENTINEL_NAME: group.name, REDIS_PREFIX: `f-${randomUUID()}:`, REDIS_MIN_REPLICAS: String(minReplicas), TIMER_POLL_MS: '50', RATE_SEND_PER_WINDOW: '1000000', MAILBOX_MAX_EVENTS: '100000', LOG_LEVEL: 'error' }
    const instances = await Promise.all([startInstance(t, env), startInstance(t, env)])
    const pairs = await setUpPairs(instances, PAIRS)
    const timeline: Array<[number, number]> = []
    const acked = pairs.map(() => 0)
    let stop = false
    const loops = pairs.map(async (pair, i) => {
      let turn = i
      for (let n = 1; !stop; n++) {
        const key = randomUUID()
        for (;;) {
          const res = await send(instances[turn++ % 2].url, 'POST', `/v1/calls/${pair.callId}/candidates`, pair.caller.token, { candidate: candidate(n) }, key)
          timeline.push([Date.now(), res.status])
          if (res.status === 202) break
          await sleep(50)
        }
        acked[i] = n
      }
    })
    const until = async (check: () => boolean) => { while (!check()) await sleep(20) }
    await until(() => acked.every((n) => n >= 20))
    // A replica behind: its link to the primary breaks lagMs before the primary dies, and it cannot get
    // back in (the primary now wants a password it does not have; the connections already open, sigpost's
    // and the sentinels', stay authenticated), so the primary's last writes never reach it. (Stopping the
    // replica would not do: on loopback the kernel keeps what was sent until the replica reads it.)
    if (lagMs > 0) {
      const primary = new Redis(await group.primaryPort(), '127.0.0.1')
      await primary.config('SET', 'requirepass', randomUUID())
      await primary.call('CLIENT', 'KILL', 'TYPE', 'replica')
      primary.disconnect()
      await sleep(lagMs)
    }
    const killedAt = Date.now()
    const { port, promoted } = await group.killPrimary()
    await promoted
    await group.rejoin(port)
    const after = [...acked]
    await until(() => acked.every((n, i) => n >= after[i] + 20))
    stop = true
    await Promise.all(loops)
    for (const pair of pairs) {
      for (;;) {
        const res = await send(instances[0].url, 'POST', `/v1/calls/${pair.callId}/candidates`, pair.caller.token, { candidate: null }, `end-${pair.callId}`)
        if (res.status === 202) break
        await sleep(50)
      }
    }
    let lost = 0
    let duplicates = 0
    for (const [i, pair] of pairs.entries()) {
      const got = (await drain(pair.stream, 3000)).filter((e) => e.data.candidate !== null).map((e) => Number(String(e.data.candidate.candidate).split(/[: ]/)[1]))
      const seen = new Set(got)
      duplicates += got.length - seen.size
      for (let n = 1; n <= acked[i]; n++) if (!seen.has(n)) lost++
      pair.stream.close()
    }
    const afterKill = timeline.filter(([at]) => at >= killedAt)
    const first503 = afterKill.find(([, status]) => status === 503)?.[0]
    const next2xx = first503 === undefined ? undefined : afterKill.find(([at, status]) => at > first503 && status === 202)?.[0]
    return {
      windowMs: first503 !== undefined && next2xx !== undefined ? next2xx - first503 : 0,
      acked: acked.reduce((a, b) => a + b, 0),
      lost,
      duplicates,
      refused: timeline.filter(([, status]) => status === 503).length,
      other: [...new Set(timeline.map(([, status]) => status))].filter((s) => s !== 202 && s !== 503),
    }
  } finally {
    await t.run()
  }
}

/** utime + stime of a process, in ms (Linux /proc; clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

async function waitCostRun(minReplicas: number): Promise<{ p50: number; p99: number; d50: number; d99: number; sigpostCpu: number; redisCpu: number; rate: number }> {
  const t = new Teardowns()
  try {
    const group = await startSentinelGroup(t)
    const env = { REDIS_SENTINELS: group.sentinels, REDIS_SENTINEL_NAME: group.name, REDIS_PREFIX: `w-${randomUUID()}:`, REDIS_MIN_REPLICAS: String(minReplicas), RATE_SEND_PER_WINDOW: '1000000', MAILBOX_MAX_EVENTS: '100000', LOG_LEVEL: 'error' }
    const instance = await startInstance(t, env)
    const primary = group.servers.get(await group.primaryPort())!
    const pairs = await setUpPairs([instance], PAIRS)
    const perPair = Math.ceil(MESSAGES / PAIRS)
    // Warm-up, then the measured run.
    for (const pair of pairs) for (let n = 0; n < 20; n++) await send(instance.url, 'POST', `/v1/calls/${pair.callId}/candidates`, pair.caller.token, { candidate: candidate(n) })
    const latencies: number[] = []
    const deliveries: number[] = []
    const readers = pairs.map(async (pair) => {
      for (let n = 0; n < perPair;) {
        const e = await pair.stream.next()
        const sentAt = e.event === 'iceCandidate' ? Number(e.data.candidate.usernameFragment) : 0
        if (sentAt === 0) continue // the call's own events and the warm-up
        deliveries.push(performance.now() - sentAt)
        n++
      }
    })
    const cpu0 = [cpuMs(instance.process.pid!), cpuMs(primary.process.pid!)]
    const started = performance.now()
    await Promise.all(pairs.map(async (pair) => {
      for (let n = 0; n < perPair; n++) {
        const at = performance.now()
        const res = await send(instance.url, 'POST', `/v1/calls/${pair.callId}/candidates`, pair.caller.token, { candidate: candidate(n, at) })
        if (res.status !== 202) throw new Error(`send: ${res.status} ${JSON.stringify(res.body)}`)
        latencies.push(performance.now() - at)
      }
    }))
    await Promise.all(readers)
    const elapsed = performance.now() - started
    const cpu1 = [cpuMs(instance.process.pid!), cpuMs(primary.process.pid!)]
    for (const pair of pairs) pair.stream.close()
    const total = perPair * PAIRS
    latencies.sort((a, b) => a - b)
    deliveries.sort((a, b) => a - b)
    return {
      p50: percentile(latencies, 50), p99: percentile(latencies, 99),
      d50: percentile(deliveries, 50), d99: percentile(deliveries, 99),
      sigpostCpu: ((cpu1[0] - cpu0[0]) / total) * 1000, redisCpu: ((cpu1[1] - cpu0[1]) / total) * 1000,
      rate: total / (elapsed / 1000),
    }
  } finally {
    await t.run()
  }
}

const ms = (v: number) => v.toFixed(1)

console.log(`\n### Failover: kill -9 of the primary (${PAIRS} calls, each caller trickling steadily, ${RUNS} runs per setting)\n`)
console.log('| REDIS_MIN_REPLICAS | replica at the kill | run | failover window (first 503 → next 2xx) | acknowledged candidates | lost | arrived twice | 503 answers | other statuses |')
console.log('|---|---|---|---|---|---|---|---|---|')
for (const lagMs of values.lags.split(',').filter(Boolean).map(Number)) {
  for (const minReplicas of [0, 1]) {
    for (let run = 1; run <= RUNS; run++) {
      const r = await failoverRun(minReplicas, lagMs)
      console.log(`| ${minReplicas} | ${lagMs ? `link cut ${lagMs} ms before` : 'in sync'} | ${run} | ${r.windowMs} ms | ${r.acked} | ${r.lost} | ${r.duplicates} | ${r.refused} | ${r.other.join(' ') || 'none'} |`)
    }
  }
}

if (values.cost === 'yes') {
  console.log(`\n### The cost of WAIT (${MESSAGES} candidates over ${PAIRS} calls, one sigpost, primary + replica on Sentinel)\n`)
  console.log('| REDIS_MIN_REPLICAS | send p50 | send p99 | send → arrival p50 | p99 | sigpost CPU / 1,000 msgs | primary CPU / 1,000 msgs | msgs/s |')
  console.log('|---|---|---|---|---|---|---|---|')
  for (const minReplicas of [0, 1, 0, 1]) {
    const r = await waitCostRun(minReplicas)
    console.log(`| ${minReplicas} | ${ms(r.p50)} ms | ${ms(r.p99)} ms | ${ms(r.d50)} ms | ${ms(r.d99)} ms | ${ms(r.sigpostCpu)} ms | ${ms(r.redisCpu)} ms | ${r.rate.toFixed(0)} |`)
  }
}
agent.destroy()
