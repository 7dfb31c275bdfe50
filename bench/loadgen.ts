/**
 * The load generator: a process of its own (never the server's), driven by bench/run.ts over IPC.
 * Each phase opens its own endpoints, measures, and closes them. Server CPU is read from
 * /proc/<server pid>/stat, the load generator's own from /proc/self/stat, over the same window.
 */
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { cpuMicros, machineBusyMicros, rssBytes, syscalls } from './lib/proc.js'
import { Rpc } from './lib/rpc.js'
import { ANSWER, OFFER, SigpostDriver, candidate, makeDriver, type Driver, type Endpoint } from './lib/drivers.js'

interface Init {
  target: string
  host: string
  port: number
  serverPid: number
  /** sigpost-redis: its redis-server, whose CPU is measured over the same windows. */
  redisPid?: number
}

let init: Init
let driver: Driver
const rpc = new Rpc(process, handle)
process.on('disconnect', () => process.exit(0))
let namePrefix = 0

async function handle(cmd: string, args: any): Promise<unknown> {
  switch (cmd) {
    case 'init':
      init = args
      driver = makeDriver(init.target, init.host, init.port)
      return { pid: process.pid }
    case 'memory':
      return memoryPhase(args)
    case 'latency':
      return latencyPhase(args)
    case 'cpu':
      return cpuPhase(args)
    case 'setup':
      return setupPhase(args)
    case 'maxStreams':
      return maxStreamsPhase(args)
    case 'openStreams':
      return openStreams(args)
    case 'countAlive':
      return held.filter((e) => e.alive).length
  }
  throw new Error(`unknown command ${cmd}`)
}

// ---------------------------------------------------------------- helpers

function names(count: number): string[] {
  const p = `b${(namePrefix++).toString(36)}x`
  return Array.from({ length: count }, (_, i) => `${p}${i}`)
}

/** Runs fn over items with at most `limit` in flight; returns results and errors in order. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<{ ok: R[]; errors: string[] }> {
  const ok: R[] = []
  const errors: string[] = []
  let next = 0
  async function worker() {
    while (next < items.length) {
      const item = items[next++]
      try {
        ok.push(await fn(item))
      } catch (e) {
        errors.push(e instanceof Error ? e.message : String(e))
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return { ok, errors }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms))),
  ])
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b)
  return { n: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN, mean: s.reduce((a, b) => a + b, 0) / (s.length || 1) }
}

async function closeAll(endpoints: Endpoint[]): Promise<void> {
  await pool(endpoints, 100, (e) => withTimeout(e.close(), 10_000, 'close'))
}

async function serverMem(): Promise<{ rss: number; heapUsed: number; external: number; arrayBuffers: number; procRss: number }> {
  const m = await rpc.call('server-mem')
  return { ...m, procRss: rssBytes(init.serverPid) }
}

interface Pair {
  a: Endpoint
  b: Endpoint
}

/** Opens 2×n endpoints and links each pair as a call (offer → answer) so candidates can flow a → b. */
async function openPairs(n: number): Promise<Pair[]> {
  const list = names(2 * n)
  const pairs: Pair[] = []
  const { errors } = await pool(Array.from({ length: n }, (_, i) => i), 25, async (i) => {
    const a = await withTimeout(driver.open(list[2 * i]), 20_000, 'open')
    const b = await withTimeout(driver.open(list[2 * i + 1]), 20_000, 'open')
    await withTimeout(callSetup(a, b, false), 20_000, 'link')
    pairs.push({ a, b })
  })
  if (errors.length) throw new Error(`opening pairs: ${errors.length} failed, first: ${errors[0]}`)
  return pairs
}

/**
 * The call set-up, the same on every target: the caller sends its offer and then (as soon as that is
 * acknowledged) one candidate; the callee, on the offer, sends its answer and then one candidate.
 * Done when the caller has the answer and the callee's candidate, and the callee the offer and the
 * caller's candidate. With candidates=false it stops after offer → answer (the link for load phases).
 */
function callSetup(a: Endpoint, b: Endpoint, candidates = true): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let need = candidates ? 4 : 2
    const got = () => {
      if (--need === 0) {
        a.onMsg = () => {}
        b.onMsg = () => {}
        resolve()
      }
    }
    a.onMsg = (m) => {
      if (m.type === 'answer' || (candidates && m.type === 'candidate')) got()
    }
    b.onMsg = (m) => {
      if (m.type === 'offer') {
        got()
        b.send(a, 'answer', ANSWER)
          .then(() => (candidates ? b.send(a, 'candidate', candidate('callee')) : undefined))
          .catch(reject)
      } else if (candidates && m.type === 'candidate') got()
    }
    a.send(b, 'offer', OFFER)
      .then(() => (candidates ? a.send(b, 'candidate', candidate('caller')) : undefined))
      .catch(reject)
  })
}

/**
 * The machine is shared: before a load phase, waits (up to maxWaitMs) until other processes use less than
 * `threshold` cores over a 500 ms window, so that fewer measuring windows overlap someone else's burst.
 */
async function awaitQuiet(threshold = 0.5, maxWaitMs = 2_500): Promise<{ waitedMs: number; otherCores: number }> {
  const t0 = performance.now()
  let other = NaN
  while (performance.now() - t0 < maxWaitMs) {
    const a0 = machineBusyMicros()
    const s0 = cpuMicros(init.serverPid)
    const l0 = cpuMicros(process.pid)
    const w0 = performance.now()
    await sleep(500)
    other = (machineBusyMicros() - a0 - (cpuMicros(init.serverPid) - s0) - (cpuMicros(process.pid) - l0)) / 1e3 / (performance.now() - w0)
    if (other < threshold) break
  }
  return { waitedMs: performance.now() - t0, otherCores: other }
}

/** CPU used so far by the target's redis-server (0 when it has none). */
function redisMicros(): number {
  return init.redisPid ? cpuMicros(init.redisPid) : 0
}

// ---------------------------------------------------------------- phases

/**
 * Memory per idle open stream: server memory (after a forced GC; RSS from /proc) before, then with
 * `count` registered names each holding an open stream, `holdMs` later.
 */
async function memoryPhase(args: { count: number; holdMs: number; idleMs?: number; snapshots?: [string, string] }) {
  await sleep(300)
  if (args.snapshots) await rpc.call('server-snapshot', { path: args.snapshots[0] })
  const before = await serverMem()
  // Idle server CPU with no client at all (timers, metrics), over 1 s.
  const idle0 = cpuMicros(init.serverPid)
  const idleT0 = performance.now()
  await sleep(args.idleMs ?? 1_000)
  const idleCpuUtilEmpty = (cpuMicros(init.serverPid) - idle0) / 1e3 / (performance.now() - idleT0)
  const sigpost = driver instanceof SigpostDriver ? driver : undefined
  const metricsBefore = sigpost ? await sigpost.metricsHeap() : undefined
  const list = names(args.count)
  let endpoints: Endpoint[]
  let errors: string[]
  let sessionsOnly
  if (sigpost) {
    // Two steps, to tell the session's share from the stream's.
    const reg = await pool(list, 50, (n) => withTimeout(sigpost.register(n), 20_000, 'register'))
    sessionsOnly = await serverMem()
    const att = await pool(reg.ok, 100, async (e) => {
      await withTimeout(e.attach(), 20_000, 'attach')
      return e
    })
    endpoints = att.ok
    errors = [...reg.errors, ...att.errors]
    // Sessions whose stream failed still hold memory: close them too.
    for (const e of reg.ok) if (!endpoints.includes(e)) void e.close()
  } else {
    const r = await pool(list, 100, (n) => withTimeout(driver.open(n), 20_000, 'open'))
    endpoints = r.ok
    errors = r.errors
  }
  const opened = await serverMem()
  const hold0 = cpuMicros(init.serverPid)
  const holdT0 = performance.now()
  await sleep(args.holdMs)
  // Server CPU while the streams sit idle (heartbeats, keep-alive pings, timers).
  const idleCpuUtilStreams = (cpuMicros(init.serverPid) - hold0) / 1e3 / (performance.now() - holdT0)
  const after = await serverMem()
  if (args.snapshots) await rpc.call('server-snapshot', { path: args.snapshots[1] })
  const metricsAfter = sigpost ? await sigpost.metricsHeap() : undefined
  const alive = endpoints.filter((e) => e.alive).length
  await closeAll(endpoints)
  await sleep(200)
  const closed = await serverMem()
  const n = endpoints.length
  return {
    streams: n,
    alive,
    errors: errors.length,
    firstError: errors[0],
    holdMs: args.holdMs,
    idleCpuUtilEmpty,
    idleCpuUtilStreams,
    before,
    sessionsOnly,
    opened,
    after,
    closed,
    rssPerStream: (after.procRss - before.procRss) / n,
    heapPerStream: (after.heapUsed - before.heapUsed) / n,
    externalPerStream: (after.external - before.external) / n,
    sessionHeapPerName: sessionsOnly ? (sessionsOnly.heapUsed - before.heapUsed) / n : undefined,
    metricsHeapPerStream: metricsBefore !== undefined && metricsAfter !== undefined ? (metricsAfter - metricsBefore) / n : undefined,
  }
}

/**
 * One-way relay latency: `pairs` pairs, each sender trickling a candidate every `intervalMs` (phases
 * spread at random), stamped with performance.now(); the receiver (same process, same clock) records
 * the difference. A sender whose previous candidate is not yet acknowledged and delivered waits for it.
 */
async function latencyPhase(args: { pairs: number; intervalMs: number; warmMs: number; measureMs: number; quietMs?: number; profile?: string }) {
  const quiet = await awaitQuiet(0.5, args.quietMs)
  const pairs = await openPairs(args.pairs)
  const samples: number[] = []
  let recording = false
  let stop = false
  let sent = 0
  const loops = pairs.map(async ({ a, b }) => {
    let delivered: (() => void) | undefined
    b.onMsg = (m) => {
      if (m.type !== 'candidate') return
      const lat = performance.now() - Number(m.data.usernameFragment)
      if (recording) samples.push(lat)
      delivered?.()
    }
    let next = performance.now() + Math.random() * args.intervalMs
    while (!stop) {
      const wait = next - performance.now()
      if (wait > 0) await sleep(wait)
      if (stop) break
      const got = new Promise<void>((resolve) => (delivered = resolve))
      await Promise.all([a.send(b, 'candidate', candidate(String(performance.now()))), got])
      sent++
      next += args.intervalMs
      const now = performance.now()
      if (next < now) next = now
    }
  })
  await sleep(args.warmMs)
  if (args.profile) await rpc.call('profile-start')
  recording = true
  const t0 = performance.now()
  const cpu0 = cpuMicros(init.serverPid)
  const redis0 = redisMicros()
  const self0 = cpuMicros(process.pid)
  const all0 = machineBusyMicros()
  await sleep(args.measureMs)
  const cpu1 = cpuMicros(init.serverPid)
  const redis1 = redisMicros()
  const self1 = cpuMicros(process.pid)
  const all1 = machineBusyMicros()
  const seconds = (performance.now() - t0) / 1000
  recording = false
  stop = true
  if (args.profile) await rpc.call('profile-stop', { path: args.profile })
  await withTimeout(Promise.all(loops), 20_000, 'latency loops').catch(() => {})
  await closeAll(pairs.flatMap((p) => [p.a, p.b]))
  return { pairs: args.pairs, intervalMs: args.intervalMs, seconds, sent, msgsPerSec: samples.length / seconds, serverCpuUtil: (cpu1 - cpu0) / 1e6 / seconds, serverCpuUsPerMsg: (cpu1 - cpu0) / samples.length, redisCpuUsPerMsg: init.redisPid ? (redis1 - redis0) / samples.length : undefined, quietWaitMs: quiet.waitedMs, otherCpuUtil: (all1 - all0 - (cpu1 - cpu0) - (redis1 - redis0) - (self1 - self0)) / 1e6 / seconds, ...stats(samples) }
}

/**
 * Steady load: `pairs` pairs, each sender sending its next candidate as soon as the previous one was
 * acknowledged and delivered (a closed loop, one in flight per pair). Server CPU per relayed message
 * = utime+stime delta of the server process / messages delivered, over the measuring window.
 */
async function cpuPhase(args: { pairs: number; warmMs: number; warmMsgs: number; measureMs: number; profile?: string; quietMs?: number }) {
  const quiet = await awaitQuiet(0.5, args.quietMs)
  const pairs = await openPairs(args.pairs)
  let counting = false
  let stop = false
  let count = 0
  // Warm-up by messages, not only by time: V8 compiles the hot path over the first thousands of
  // messages (both sigpost and the floor spend 3–4× their steady CPU per message there), and a slow
  // or loaded run reaches fewer of them in the same seconds. Measured from the warmMsgs-th on.
  let warmed = 0
  let onWarm: (() => void) | undefined
  const warm = new Promise<void>((resolve) => (onWarm = resolve))
  let errors = 0
  let firstError: string | undefined
  const loops = pairs.map(async ({ a, b }) => {
    let delivered: (() => void) | undefined
    b.onMsg = (m) => {
      if (m.type !== 'candidate') return
      if (counting) count++
      else if (++warmed === args.warmMsgs) onWarm?.()
      delivered?.()
    }
    const c = candidate('0')
    while (!stop) {
      const got = new Promise<void>((resolve) => (delivered = resolve))
      try {
        await Promise.all([a.send(b, 'candidate', c), withTimeout(got, 10_000, 'delivery')])
      } catch (e) {
        errors++
        firstError ??= e instanceof Error ? e.message : String(e)
        if (errors > 100) break
      }
    }
  })
  const warmStart = performance.now()
  await Promise.all([sleep(args.warmMs), withTimeout(warm, 120_000, `warm-up (${args.warmMsgs} messages)`)])
  const warmSeconds = (performance.now() - warmStart) / 1000
  if (args.profile) await rpc.call('profile-start')
  const t0 = performance.now()
  const cpu0 = cpuMicros(init.serverPid)
  const redis0 = redisMicros()
  const self0 = cpuMicros(process.pid)
  const io0 = syscalls(init.serverPid)
  const all0 = machineBusyMicros()
  counting = true
  await sleep(args.measureMs)
  counting = false
  const cpu1 = cpuMicros(init.serverPid)
  const redis1 = redisMicros()
  const self1 = cpuMicros(process.pid)
  const io1 = syscalls(init.serverPid)
  const all1 = machineBusyMicros()
  const seconds = (performance.now() - t0) / 1000
  if (args.profile) await rpc.call('profile-stop', { path: args.profile })
  stop = true
  await withTimeout(Promise.all(loops), 20_000, 'cpu loops').catch(() => {})
  await closeAll(pairs.flatMap((p) => [p.a, p.b]))
  return {
    pairs: args.pairs,
    seconds,
    warmMsgs: warmed,
    warmSeconds,
    msgs: count,
    msgsPerSec: count / seconds,
    serverCpuUsPerMsg: (cpu1 - cpu0) / count,
    redisCpuUsPerMsg: init.redisPid ? (redis1 - redis0) / count : undefined,
    loadgenCpuUsPerMsg: (self1 - self0) / count,
    serverCpuUtil: (cpu1 - cpu0) / 1e6 / seconds,
    loadgenCpuUtil: (self1 - self0) / 1e6 / seconds,
    otherCpuUtil: (all1 - all0 - (cpu1 - cpu0) - (redis1 - redis0) - (self1 - self0)) / 1e6 / seconds,
    quietWaitMs: quiet.waitedMs,
    serverReadSyscallsPerMsg: (io1.reads - io0.reads) / count,
    serverWriteSyscallsPerMsg: (io1.writes - io0.writes) / count,
    errors,
    firstError,
  }
}

/** Call set-up time, one call at a time, fresh registered names with open streams each time (untimed). */
async function setupPhase(args: { count: number; warmup: number; quietMs?: number }) {
  const quiet = await awaitQuiet(0.5, args.quietMs)
  const samples: number[] = []
  const errors: string[] = []
  const list = names(2 * (args.count + args.warmup))
  for (let i = 0; i < args.count + args.warmup; i++) {
    let a: Endpoint | undefined
    let b: Endpoint | undefined
    try {
      a = await withTimeout(driver.open(list[2 * i]), 20_000, 'open')
      b = await withTimeout(driver.open(list[2 * i + 1]), 20_000, 'open')
      const t0 = performance.now()
      await withTimeout(callSetup(a, b), 10_000, 'call set-up')
      if (i >= args.warmup) samples.push(performance.now() - t0)
    } catch (e) {
      errors.push(e instanceof Error ? e.message : String(e))
    }
    await Promise.all([a?.close(), b?.close()])
  }
  return { errors: errors.length, firstError: errors[0], quietWaitMs: quiet.waitedMs, ...stats(samples) }
}

/**
 * Open streams held by one instance within a memory budget: opens `step` more at a time, up to `cap`,
 * stopping when an open fails or the server's RSS exceeds the budget. Then holds them `holdMs` and
 * counts the ones still open. Not cleaned up: the bench kills this server and this process afterwards.
 */
async function maxStreamsPhase(args: { cap: number; step: number; budgetBytes: number; holdMs: number; deadlineMs: number }) {
  const deadline = Date.now() + args.deadlineMs
  const endpoints: Endpoint[] = []
  const steps: Array<{ streams: number; rss: number; openSeconds: number }> = []
  let withinBudget = 0
  let rssAtWithin = rssBytes(init.serverPid)
  let stopReason = 'cap reached'
  while (endpoints.length < args.cap) {
    if (Date.now() > deadline) {
      stopReason = 'time limit'
      break
    }
    const t0 = performance.now()
    const want = Math.min(args.step, args.cap - endpoints.length)
    const r = await pool(names(want), 200, (n) => withTimeout(driver.open(n), 30_000, 'open'))
    endpoints.push(...r.ok)
    const rss = rssBytes(init.serverPid)
    steps.push({ streams: endpoints.length, rss, openSeconds: (performance.now() - t0) / 1000 })
    if (rss > args.budgetBytes) {
      stopReason = 'memory budget exceeded'
      break
    }
    withinBudget = endpoints.length
    rssAtWithin = rss
    if (r.errors.length > 0) {
      stopReason = `open failed (${r.errors.length}× ${r.errors[0]})`
      break
    }
  }
  await sleep(args.holdMs)
  const alive = endpoints.filter((e) => e.alive).length
  const mem = await serverMem()
  return { cap: args.cap, budgetBytes: args.budgetBytes, opened: endpoints.length, withinBudget, rssAtWithin, aliveAfterHold: alive, holdMs: args.holdMs, stopReason, steps, finalMem: mem }
}

/** Streams held for the stream-count phase, across openStreams calls (several load generators share it). */
const held: Endpoint[] = []

/** Opens `count` more endpoints (registered name + open stream) and keeps them open. */
async function openStreams(args: { count: number; prefix: string }) {
  const t0 = performance.now()
  const list = Array.from({ length: args.count }, (_, i) => `${args.prefix}${held.length + i}`)
  const r = await pool(list, 200, (n) => withTimeout(driver.open(n), 30_000, 'open'))
  held.push(...r.ok)
  return { opened: r.ok.length, total: held.length, errors: r.errors.length, firstError: r.errors[0], seconds: (performance.now() - t0) / 1000 }
}
