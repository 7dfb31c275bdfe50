/**
 * npm run bench [-- --quick] [-- --targets=floor,ws,...] [-- --profile] [-- --max-streams=10000] [-- --budget-mib=512]
 *
 * Issue 7's benchmark: every target is its own server process on 127.0.0.1, driven by a load generator
 * process (bench/loadgen.ts) of its own; this process only orchestrates, measures nothing itself, and
 * prints the markdown tables (also written as JSON to bench/results/latest.json).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { cmdline, rssBytes } from './lib/proc.js'
import { Rpc } from './lib/rpc.js'

const ROOT = resolve(import.meta.dirname, '..')
const RESULTS = resolve(ROOT, 'bench/results')
const HOST = '127.0.0.1'

// ---------------------------------------------------------------- options

const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(`--${name}`)
const opt = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
const QUICK = flag('quick')
/** --profile: the closed-loop CPU phase; --profile=paced: the 50-pair phase at 1,000 msg/s. */
const PROFILE = flag('profile') || opt('profile') !== undefined
const PROFILE_PACED = opt('profile') === 'paced'
const HEAP = flag('heap')
const ALL_TARGETS = ['floor', 'fastify-floor', 'ws', 'sigpost-sse', 'sigpost-poll', 'sigpost-redis', 'peerjs', 'socketio', 'sigpost-sse-logs'] as const
type Target = (typeof ALL_TARGETS)[number]
/** Run unless named in --targets: sigpost-sse-logs (the logging check) is not a comparison with the others. */
const DEFAULT_TARGETS = ALL_TARGETS.filter((t) => t !== 'sigpost-sse-logs')
const TARGETS = (opt('targets')?.split(',') ?? (PROFILE || HEAP ? ['sigpost-sse'] : [...DEFAULT_TARGETS])) as Target[]
for (const t of TARGETS) if (!ALL_TARGETS.includes(t)) throw new Error(`unknown target ${t}; known: ${ALL_TARGETS.join(', ')}`)
const BUDGET_MIB = Number(opt('budget-mib') ?? 512)
const ALL_PHASES = ['memory', 'latency1', 'latency50', 'setup', 'cpu'] as const
const PHASES = opt('phases')?.split(',') ?? [...ALL_PHASES]
for (const p of PHASES) if (!(ALL_PHASES as readonly string[]).includes(p)) throw new Error(`unknown phase ${p}; known: ${ALL_PHASES.join(', ')}`)

const P = QUICK
  ? {
      rounds: Number(opt('rounds') ?? 1),
      memory: { count: 200, holdMs: 1_000, idleMs: 0 },
      latency1: { pairs: 1, intervalMs: 10, warmMs: 300, measureMs: 1_000, quietMs: 0 },
      latency50: { pairs: 50, intervalMs: 50, warmMs: 300, measureMs: 1_000, quietMs: 0 },
      setup: { count: 20, warmup: 3, quietMs: 0 },
      cpu: { pairs: 50, warmMs: 500, warmMsgs: Number(opt('warm-msgs') ?? 10_000), measureMs: 1_500, quietMs: 0 },
      maxStreams: undefined as undefined | { cap: number; step: number; budgetBytes: number; holdMs: number; deadlineMs: number },
    }
  : {
      rounds: Number(opt('rounds') ?? 3),
      memory: { count: 2_000, holdMs: 30_000, idleMs: 1_000 },
      latency1: { pairs: 1, intervalMs: 10, warmMs: 500, measureMs: 3_000, quietMs: 2_500 },
      latency50: { pairs: 50, intervalMs: 50, warmMs: 500, measureMs: 3_000, quietMs: 2_500 },
      setup: { count: 150, warmup: 5, quietMs: 2_500 },
      cpu: { pairs: 50, warmMs: 1_000, warmMsgs: Number(opt('warm-msgs') ?? 20_000), measureMs: 4_000, quietMs: 2_500 },
      maxStreams: { cap: Number(opt('max-streams') ?? 18_000), step: 2_000, budgetBytes: BUDGET_MIB * 1024 * 1024, holdMs: 5_000, deadlineMs: 90_000 },
    }
if (flag('no-max-streams')) P.maxStreams = undefined
if (QUICK && opt('max-streams')) P.maxStreams = { cap: Number(opt('max-streams')), step: 2_000, budgetBytes: BUDGET_MIB * 1024 * 1024, holdMs: 1_000, deadlineMs: 30_000 }

/** sigpost with its rate and mailbox limits lifted (said so in the table). */
const SIGPOST_ENV = {
  LOG_LEVEL: 'silent',
  RATE_REGISTER_PER_WINDOW: '1000000000',
  RATE_SEND_PER_WINDOW: '1000000000',
  MAILBOX_MAX_EVENTS: '1000000',
  MAILBOX_MAX_BYTES: '1073741824',
  // A closed-loop pair relays thousands of candidates in one call (the default limit is 500 per side).
  MAX_CANDIDATES_PER_CALL: '1000000000',
  GRACE_MS: '600000',
  // Every client of the load generator is one address: the per-address caps would stop the stream count
  // (and the memory phase's 2,000 names, kept for GRACE_MS, every later phase: the full run failed so).
  MAX_CONNECTIONS_PER_IP: '0',
  MAX_SESSIONS_PER_IP: '1000000000',
  RATE_UNAUTHENTICATED_PER_WINDOW: '1000000000',
}

const SERVERS: Record<Target, { script: string; env?: Record<string, string>; relays: string; redis?: boolean }> = {
  floor: {
    script: 'bench/servers/floor.ts',
    relays: 'bare `node:http`: `POST /send/<name>` → 204, the body written unparsed as `data: …` to the recipient\'s held chunked `GET /events/<name>` (SSE-like); no auth, no JSON parse, no store',
  },
  'fastify-floor': {
    script: 'bench/servers/fastify-floor.ts',
    relays: 'the floor\'s protocol on Fastify 5 with its defaults: `POST /send/:name` (JSON body parsed by Fastify\'s parser) → 204, the message written to the hijacked `GET /events/:name`; no hooks, schemas, auth or store: what any Fastify relay costs at least',
  },
  ws: {
    script: 'bench/servers/ws-relay.ts',
    relays: '`ws` 8: one WebSocket per name (`register` message); JSON.parse → look up `to` → JSON.stringify → send; no ack (a send "acknowledged" = written)',
  },
  'sigpost-sse': {
    script: 'dist/server/main.js',
    env: SIGPOST_ENV,
    relays: '`POST /v1/calls/:id/candidates` (Bearer) → 202; recipient reads `GET /v1/events` (SSE). Limits lifted: RATE_REGISTER/SEND_PER_WINDOW=1e9, MAILBOX_MAX_EVENTS=1e6, MAILBOX_MAX_BYTES=1 GiB, MAX_CANDIDATES_PER_CALL=1e9, GRACE_MS=600000, MAX_CONNECTIONS_PER_IP=0, MAX_SESSIONS_PER_IP and RATE_UNAUTHENTICATED_PER_WINDOW=1e9 (one address), LOG_LEVEL=silent; rest default (heartbeat 15 s, replay 256)',
  },
  'sigpost-sse-logs': {
    script: 'dist/server/main.js',
    env: Object.fromEntries(Object.entries(SIGPOST_ENV).filter(([key]) => key !== 'LOG_LEVEL')),
    relays: 'as sigpost (SSE), with the default logging (LOG_LEVEL and LOG_REQUESTS unset; stdout drained through a pipe): what logging costs is its CPU / msg against sigpost-sse\'s',
  },
  'sigpost-redis': {
    script: 'dist/server/main.js',
    env: SIGPOST_ENV,
    redis: true,
    relays: 'as sigpost (SSE), on the Redis store: a redis-server 7 of its own (started by the bench on a free loopback port, no persistence: `--save "" --appendonly no`, stopped by PID), REDIS_URL pointing at it; the rate limits count in Redis too. Its CPU is read from /proc/<redis pid>/stat over the same window: "Redis CPU µs / msg"',
  },
  'sigpost-poll': {
    script: 'dist/server/main.js',
    env: SIGPOST_ENV,
    relays: 'as sigpost (SSE), but the recipient long-polls `GET /v1/poll?after=<id>&wait=25` (keep-alive), re-polling after every answer',
  },
  peerjs: {
    script: 'bench/servers/peerjs.ts',
    relays: '`peer` 1.0 PeerServer (programmatic, path `/`, concurrent_limit raised 5000 → 1e6); clients speak its protocol over `ws`: `/peerjs?key=peerjs&id=…&token=…`, `{type:"OFFER"|"ANSWER"|"CANDIDATE", dst, payload}`; HEARTBEAT every 25 s',
  },
  socketio: {
    script: 'bench/servers/socketio.ts',
    relays: 'socket.io 4.8, `transports: ["polling"]` on server and client: `register` joins room <name>; `emit("signal", msg, ack)` → `io.to(msg.to).emit`, then ack; the recipient gets it on its pending long-poll GET',
  },
}

// ---------------------------------------------------------------- process management

const children = new Set<ChildProcess>()
function killAll(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null && c.pid) {
      try {
        process.kill(c.pid, 'SIGKILL')
      } catch {}
    }
  }
  children.clear()
}
process.on('exit', killAll)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    killAll()
    process.exit(130)
  })
}
process.on('uncaughtException', (e) => {
  console.error(e)
  killAll()
  process.exit(1)
})

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, HOST, () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

/** `node` itself is exec'd from a shell that raised the fd limit first: the pid is node's, not a wrapper's. */
function spawnNode(args: string[], env: Record<string, string>, stdio: 'pipe' | 'inherit'): ChildProcess {
  const child = spawn('/bin/bash', ['-c', 'ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', stdio, stdio, 'ipc'],
  })
  children.add(child)
  child.on('exit', () => children.delete(child))
  return child
}

function waitForPort(port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`server exited with ${child.exitCode}`))
      const s = net.connect(port, HOST)
      s.once('connect', () => {
        s.destroy()
        resolve()
      })
      s.once('error', () => {
        s.destroy()
        if (Date.now() > deadline) reject(new Error(`port ${port} not listening after ${timeoutMs} ms`))
        else setTimeout(attempt, 100)
      })
    }
    attempt()
  })
}

interface Instance {
  server: ChildProcess
  serverRpc: Rpc
  loadgen: ChildProcess
  loadgenRpc: Rpc
  stderr: () => string
  port: number
  /** sigpost-redis: the redis-server whose CPU is measured too. */
  redisPid?: number
}

/** A redis-server of the target's own on a free loopback port; killed by PID with the other children. */
async function startRedis(): Promise<{ pid: number; url: string }> {
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { stdio: ['ignore', 'ignore', 'pipe'] })
  children.add(child)
  child.on('exit', () => children.delete(child))
  await waitForPort(port, 10_000, child)
  return { pid: child.pid!, url: `redis://${HOST}:${port}` }
}

async function startInstance(target: Target): Promise<Instance> {
  const def = SERVERS[target]
  const port = await freePort()
  const redis = def.redis ? await startRedis() : undefined
  const server = spawnNode(['--expose-gc', '--import', 'tsx', '--import', './bench/servers/probe.ts', def.script], { ...def.env, ...(redis ? { REDIS_URL: redis.url } : {}), PORT: String(port), HOST }, 'pipe')
  let errText = ''
  server.stderr!.on('data', (d: Buffer) => (errText = (errText + d.toString()).slice(-4000)))
  server.stdout!.resume()
  const serverRpc = new Rpc(server)
  server.on('exit', (code, sig) => serverRpc.failAll(new Error(`server exited (${code ?? sig})\n${errText}`)))
  // 120 s: on a loaded shared machine a server can take longer than 30 s to start listening.
  await waitForPort(port, 120_000, server).catch((e) => {
    throw new Error(`${target}: ${e.message}\n${errText}`)
  })
  const argv0 = cmdline(server.pid!)[0]
  if (!argv0.endsWith('node') && argv0 !== process.execPath) throw new Error(`measuring ${argv0}, not node`)
  const partial = { server, serverRpc, stderr: () => errText, port, redisPid: redis?.pid }
  const lg = await startLoadgen(target, partial)
  return { ...partial, ...lg }
}

/** A load generator for a running server (bench/loadgen.ts), initialised with the server's port and pid. */
async function startLoadgen(target: Target, inst: Pick<Instance, 'server' | 'serverRpc' | 'stderr' | 'port' | 'redisPid'>): Promise<Instance> {
  const { server, serverRpc, port, redisPid } = inst
  const loadgen = spawnNode(['--max-old-space-size=8192', '--import', 'tsx', 'bench/loadgen.ts'], {}, 'inherit')
  const loadgenRpc = new Rpc(loadgen, async (cmd, args) => {
    if (cmd === 'server-mem') return serverRpc.call('mem', undefined, 60_000)
    if (cmd === 'server-snapshot') return serverRpc.call('snapshot', undefined, 120_000, { path: args.path })
    if (cmd === 'profile-start') return serverRpc.call('profile-start', undefined, 60_000)
    if (cmd === 'profile-stop') return serverRpc.call('profile-stop', undefined, 60_000, { path: args.path })
    throw new Error(`unknown request ${cmd}`)
  })
  server.on('exit', (code, sig) => loadgenRpc.failAll(new Error(`server exited (${code ?? sig})\n${inst.stderr()}`)))
  loadgen.on('exit', (code, sig) => loadgenRpc.failAll(new Error(`load generator exited (${code ?? sig})`)))
  await loadgenRpc.call('init', { target, host: HOST, port, serverPid: server.pid, redisPid }, 30_000)
  return { server, serverRpc, loadgen, loadgenRpc, stderr: inst.stderr, port, redisPid }
}

function stopInstance(i: Instance): void {
  for (const c of [i.loadgen, i.server]) {
    if (c.exitCode === null && c.pid) {
      try {
        process.kill(c.pid, 'SIGKILL')
      } catch {}
    }
  }
  // After its client: the redis-server this instance started (by its PID, never by name).
  const redis = [...children].find((c) => c.pid === i.redisPid)
  if (redis?.pid && redis.exitCode === null) process.kill(redis.pid, 'SIGKILL')
}

// ---------------------------------------------------------------- running

type Results = Record<string, any>
const results: Record<string, Results> = {}
const started = Date.now()
const log = (s: string) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}\n`)

async function phase(i: Instance, target: Target, name: string, cmd: string, args: object, timeoutMs: number, round?: number): Promise<void> {
  log(`${target}: ${name}${round === undefined ? '' : ` (round ${round + 1}/${P.rounds})`}`)
  try {
    results[target][name] = await i.loadgenRpc.call(cmd, args, timeoutMs)
  } catch (e) {
    results[target][name] = { error: e instanceof Error ? e.message.split('\n')[0] : String(e) }
    log(`${target}: ${name} failed: ${results[target][name].error}`)
  }
}

/** Numeric fields: the median over the rounds that did not fail; the rounds themselves are kept too. */
function mergeRounds(rounds: Results[]): Results {
  const ok = rounds.filter((r) => !r.error)
  if (ok.length === 0) return { error: rounds[0]?.error ?? 'no rounds', rounds }
  const merged: Results = { ...ok[0], rounds }
  for (const k of Object.keys(ok[0])) {
    if (typeof ok[0][k] !== 'number') continue
    const v = ok.map((r) => r[k] as number).sort((a, b) => a - b)
    merged[k] = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2
  }
  return merged
}

async function runAll(): Promise<void> {
  // Every target's server and load generator is started up front (idle while others are measured), so
  // that the load phases can run interleaved, round after round: background noise then hits every
  // target alike, and each figure is the median of its rounds.
  const instances = new Map<Target, Instance>()
  log(`starting ${TARGETS.length} servers and load generators`)
  const started = await Promise.all(TARGETS.map(async (t) => {
    results[t] = {}
    try {
      return [t, await startInstance(t)] as const
    } catch (e) {
      results[t].error = e instanceof Error ? e.message : String(e)
      log(`${t}: ${results[t].error}`)
      return undefined
    }
  }))
  for (const entry of started) if (entry) instances.set(entry[0], entry[1])
  try {
    // Idle memory first, on each fresh server, one target at a time.
    if (PHASES.includes('memory')) for (const [t, inst] of instances) await phase(inst, t, 'memory', 'memory', P.memory, 180_000)
    const rounds: Record<string, Record<string, Results[]>> = {}
    for (let r = 0; r < P.rounds; r++) {
      for (const [name, cmd, args, timeout] of [
        ['latency1', 'latency', P.latency1, 60_000],
        ['latency50', 'latency', P.latency50, 60_000],
        ['setup', 'setup', P.setup, 180_000],
        ['cpu', 'cpu', P.cpu, 90_000],
      ] as const) {
        if (!PHASES.includes(name)) continue
        for (const [t, inst] of instances) {
          await phase(inst, t, name, cmd, args, timeout, r)
          ;((rounds[t] ??= {})[name] ??= []).push(results[t][name])
        }
      }
    }
    for (const [t, byPhase] of Object.entries(rounds)) for (const [name, list] of Object.entries(byPhase)) results[t][name] = mergeRounds(list)
  } finally {
    for (const inst of instances.values()) stopInstance(inst)
  }
  if (!P.maxStreams) return
  // The stream count: each target on a fresh server of its own, one at a time.
  for (const t of TARGETS) {
    try {
      results[t].maxStreams = await maxStreams(t, P.maxStreams)
    } catch (e) {
      results[t].maxStreams = { error: e instanceof Error ? e.message.split('\n')[0] : String(e) }
      log(`${t}: maxStreams failed: ${results[t].maxStreams.error}`)
    }
  }
}

/**
 * Open streams one instance holds within a memory budget: streams are opened `step` at a time, spread over
 * LOADGENS load-generator processes (a process may hold only ~20,000 fds here), until the cap, a failed
 * open, or server RSS over the budget; then they are held and counted.
 */
const LOADGENS = 3
async function maxStreams(target: Target, o: NonNullable<typeof P.maxStreams>): Promise<Results> {
  log(`${target}: maxStreams`)
  const inst = await startInstance(target)
  const extra: Instance[] = []
  try {
    for (let i = 1; i < LOADGENS; i++) extra.push(await startLoadgen(target, inst))
    const gens = [inst, ...extra]
    const pid = inst.server.pid!
    const deadline = Date.now() + o.deadlineMs
    const steps: Array<{ streams: number; rss: number; openSeconds: number }> = []
    let total = 0
    let withinBudget = 0
    let rssAtWithin = rssBytes(pid)
    let stopReason = 'cap reached'
    while (total < o.cap) {
      if (Date.now() > deadline) {
        stopReason = 'time limit'
        break
      }
      const want = Math.min(o.step, o.cap - total)
      const t0 = Date.now()
      const parts = await Promise.all(gens.map((g, i) => g.loadgenRpc.call('openStreams', { count: Math.floor(want / gens.length) + (i < want % gens.length ? 1 : 0), prefix: `m${i}x` }, 120_000)))
      total = parts.reduce((a, p) => a + p.total, 0)
      const errors = parts.reduce((a, p) => a + p.errors, 0)
      const rss = rssBytes(pid)
      steps.push({ streams: total, rss, openSeconds: (Date.now() - t0) / 1000 })
      if (rss > o.budgetBytes) {
        stopReason = 'memory budget exceeded'
        break
      }
      withinBudget = total
      rssAtWithin = rss
      if (errors > 0) {
        stopReason = `open failed (${errors}× ${parts.find((p) => p.firstError)?.firstError})`
        break
      }
    }
    await sleep(o.holdMs)
    const alive = (await Promise.all(gens.map((g) => g.loadgenRpc.call<number>('countAlive', undefined, 60_000)))).reduce((a, b) => a + b, 0)
    const finalMem = { ...(await inst.serverRpc.call('mem', undefined, 60_000)), procRss: rssBytes(pid) }
    return { cap: o.cap, budgetBytes: o.budgetBytes, loadgens: gens.length, opened: total, withinBudget, rssAtWithin, aliveAfterHold: alive, holdMs: o.holdMs, stopReason, steps, finalMem }
  } finally {
    for (const g of extra) stopInstance({ ...g, server: g.loadgen })
    stopInstance(inst)
  }
}

async function runProfile(): Promise<void> {
  const target = TARGETS[0]
  results[target] = {}
  const path = resolve(RESULTS, `${target}.cpuprofile`)
  const inst = await startInstance(target)
  try {
    if (PROFILE_PACED) await phase(inst, target, 'cpu', 'latency', { ...P.latency50, profile: path }, 120_000)
    else await phase(inst, target, 'cpu', 'cpu', { ...P.cpu, profile: path }, 120_000)
  } finally {
    stopInstance(inst)
  }
  const summary = summariseProfile(path)
  writeFileSync(resolve(RESULTS, `${target}.profile.json`), JSON.stringify({ cpu: results[target].cpu, ...summary }, null, 2))
  const cpu = results[target].cpu
  const load = PROFILE_PACED ? 'paced load' : 'steady load'
  console.log(`## CPU profile of ${target} during ${load} (${cpu.pairs} pairs, ${cpu.seconds?.toFixed(1)} s, ${fmt(cpu.msgsPerSec, 0)} msg/s, ${fmt(cpu.serverCpuUsPerMsg, 1)} µs/msg with the profiler on; other processes used ${fmt(cpu.otherCpuUtil, 2)} of 2 cores meanwhile)\n`)
  console.log(`profile: ${path} (open in Chrome DevTools → Performance, or speedscope)\n`)
  console.log(`busy ${fmt(summary.busyMs, 0)} ms, idle ${fmt(summary.idleMs, 0)} ms; percentages are of busy time\n`)
  console.log('### self time by package / file\n\n| where | self % |\n|---|---:|')
  for (const [k, v] of summary.byFile.slice(0, 25)) console.log(`| ${k} | ${v.toFixed(1)} |`)
  console.log('\n### top self-time functions\n\n| function | where | self % |\n|---|---|---:|')
  for (const f of summary.byFunction.slice(0, 30)) console.log(`| ${f.name} | ${f.where} | ${f.pct.toFixed(1)} |`)
  console.log('\n### native code by JS caller\n\n| native | called from | self % |\n|---|---|---:|')
  for (const f of summary.natives.slice(0, 15)) console.log(`| ${f.name} | ${f.caller} | ${f.pct.toFixed(1)} |`)
}

/**
 * Self time per function and per file/package from a .cpuprofile (samples × time deltas), as % of the
 * busy time ((idle) excluded). Native functions (no url) are also listed with the JS function that called them.
 */
function summariseProfile(path: string) {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; children?: number[] }>
    samples: number[]
    timeDeltas: number[]
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfUs = new Map<number, number>()
  let total = 0
  let idle = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0
    const id = profile.samples[i]
    if (byId.get(id)!.callFrame.functionName === '(idle)') {
      idle += dt
      continue
    }
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt)
    total += dt
  }
  const where = (cf: { url: string; lineNumber: number; columnNumber: number; functionName: string }) => (cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}:${cf.columnNumber + 1}` : '(native)')
  const fn = new Map<string, { name: string; where: string; us: number }>()
  const file = new Map<string, number>()
  const natives = new Map<string, { name: string; caller: string; us: number }>()
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)!.callFrame
    const key = `${cf.functionName}|${cf.url}|${cf.lineNumber}|${cf.columnNumber}`
    const e = fn.get(key) ?? { name: cf.functionName || '(anonymous)', where: where(cf), us: 0 }
    e.us += us
    fn.set(key, e)
    const group = cf.url ? packageOf(cf.url) : cf.functionName.startsWith('(') ? cf.functionName : '(native code)'
    file.set(group, (file.get(group) ?? 0) + us)
    if (!cf.url && !cf.functionName.startsWith('(')) {
      const p = byId.get(parent.get(id) ?? -1)?.callFrame
      const caller = p ? `${p.functionName || '(anonymous)'} ${where(p)}` : '?'
      const k = `${cf.functionName}|${caller}`
      const n = natives.get(k) ?? { name: cf.functionName, caller, us: 0 }
      n.us += us
      natives.set(k, n)
    }
  }
  const pct = (us: number) => (100 * us) / total
  return {
    busyMs: total / 1000,
    idleMs: idle / 1000,
    byFunction: [...fn.values()].sort((a, b) => b.us - a.us).map((f) => ({ ...f, pct: pct(f.us) })),
    byFile: [...file.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, pct(v)] as [string, number]),
    natives: [...natives.values()].sort((a, b) => b.us - a.us).map((f) => ({ ...f, pct: pct(f.us) })),
  }
}

/**
 * --heap: heap snapshots of a fresh server before and after N idle streams (after a forced GC), and what
 * the difference is made of, per stream: self size and count by object type / constructor.
 */
async function runHeap(): Promise<void> {
  const target = TARGETS[0]
  const count = Number(opt('streams') ?? 1000)
  results[target] = {}
  const paths: [string, string] = [resolve(RESULTS, `${target}.before.heapsnapshot`), resolve(RESULTS, `${target}.after.heapsnapshot`)]
  const inst = await startInstance(target)
  try {
    await phase(inst, target, 'memory', 'memory', { count, holdMs: 3_000, snapshots: paths }, 300_000)
  } finally {
    stopInstance(inst)
  }
  const m = results[target].memory
  if (m.error) throw new Error(m.error)
  const [a, b] = paths.map(heapByKind)
  const rows = [...b.keys()].map((k) => {
    const before = a.get(k) ?? { size: 0, count: 0 }
    const after = b.get(k)!
    return { kind: k, bytes: (after.size - before.size) / m.streams, count: (after.count - before.count) / m.streams }
  }).sort((x, y) => y.bytes - x.bytes)
  const total = rows.reduce((t, r) => t + r.bytes, 0)
  writeFileSync(resolve(RESULTS, `${target}.heap.json`), JSON.stringify({ memory: m, perStream: rows.slice(0, 200) }, null, 2))
  console.log(`## ${target}: JS heap per idle stream, from heap snapshots (${m.streams} streams; heapUsed delta ${fmt(m.heapPerStream / 1024, 2)} KiB/stream, session alone ${fmt((m.sessionHeapPerName ?? NaN) / 1024, 2)} KiB)\n`)
  console.log(`snapshot self sizes, after − before, per stream: ${fmt(total / 1024, 2)} KiB\n`)
  console.log('| object kind (type: constructor/name) | bytes / stream | objects / stream |\n|---|---:|---:|')
  for (const r of rows.slice(0, 30)) console.log(`| ${r.kind.replace(/\|/g, '\\|')} | ${fmt(r.bytes, 0)} | ${fmt(r.count, 2)} |`)
}

function heapByKind(path: string): Map<string, { size: number; count: number }> {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] }
  const fields = snap.snapshot.meta.node_fields
  const types = snap.snapshot.meta.node_types[0]
  const width = fields.length
  const iType = fields.indexOf('type')
  const iName = fields.indexOf('name')
  const iSize = fields.indexOf('self_size')
  const out = new Map<string, { size: number; count: number }>()
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]]
    const name = snap.strings[snap.nodes[i + iName]]
    const key = ['object', 'closure', 'native'].includes(type) ? `${type}: ${name.slice(0, 70)}` : type === 'array' || type === 'hidden' || type === 'object shape' ? `${type}: ${name.slice(0, 40)}` : `(${type})`
    const e = out.get(key) ?? { size: 0, count: 0 }
    e.size += snap.nodes[i + iSize]
    e.count++
    out.set(key, e)
  }
  return out
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '').replace(/^.*node_modules\//, '')
}
function packageOf(url: string): string {
  const u = url.replace(/^file:\/\//, '')
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(u)
  if (m) return `${m[1]} (${m[2].split('/').pop()})`
  if (u.startsWith('node:')) return u.startsWith('node:internal') ? `node internals (${u.slice(14)})` : u
  return u.replace(`${ROOT}/`, '')
}

// ---------------------------------------------------------------- output

function fmt(v: number | undefined, digits = 1): string {
  if (v === undefined || !Number.isFinite(v)) return '—'
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}
const ratio = (v: number | undefined, base: number | undefined) => (v === undefined || base === undefined || !Number.isFinite(v) || !Number.isFinite(base) || base === 0 ? undefined : v / base)
const x = (r: number | undefined) => (r === undefined ? '—' : `${r.toFixed(2)}×`)
const get = (t: string, path: string): number | undefined => {
  let v: any = results[t]
  for (const k of path.split('.')) v = v?.[k]
  return typeof v === 'number' ? v : undefined
}
const errOf = (t: string, ph: string) => (results[t]?.[ph]?.error ? `error: ${results[t][ph].error.slice(0, 60)}` : undefined)

function cell(t: string, path: string, digits: number, bases: Array<[string, string]>): string {
  const ph = path.split('.')[0]
  const err = errOf(t, ph)
  if (err) return err
  const v = get(t, path)
  if (v === undefined) return '—'
  const rs = bases.filter(([b]) => b !== t && results[b]).map(([b, label]) => `${x(ratio(v, get(b, path)))} ${label}`)
  return rs.length ? `${fmt(v, digits)} (${rs.join(', ')})` : fmt(v, digits)
}

function printTables(): string {
  const lines: string[] = []
  const out = (s = '') => lines.push(s)
  const ts = TARGETS.filter((t) => results[t])
  const FW: Array<[string, string]> = [['floor', 'floor'], ['ws', 'ws']]
  out(`## sigpost benchmark (${QUICK ? 'quick' : 'full'} run, ${new Date().toISOString()}, node ${process.version}, loopback, 2 cores shared with other work)`)
  out()
  out('| target | server CPU µs / relayed msg | relayed msg/s (50 pairs) | server CPU µs / msg at 1,000 msg/s paced | Redis CPU µs / msg: closed loop / paced | server read / write syscalls per msg | load-gen CPU µs / msg | latency 1 pair p50 / p99 ms | latency 50 pairs p50 ms | latency 50 pairs p99 ms | call set-up p50 ms | call set-up p99 ms | idle stream: server RSS KiB | idle stream: JS heap KiB | server CPU % of a core: no clients / idle streams | streams held ≤ budget |')
  out('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const t of ts) {
    const ms = results[t].maxStreams
    const held = errOf(t, 'maxStreams') ?? (ms ? `${ms.withinBudget.toLocaleString('en-US')}${ms.withinBudget >= ms.cap ? ' (cap)' : ''} @ ${fmt(ms.rssAtWithin / 1048576, 0)} MiB RSS${ms.aliveAfterHold < ms.opened ? `, ${ms.aliveAfterHold} alive after hold` : ''}` : '— (full run)')
    out(`| ${t} | ${cell(t, 'cpu.serverCpuUsPerMsg', 1, FW)} | ${cell(t, 'cpu.msgsPerSec', 0, [])} | ${cell(t, 'latency50.serverCpuUsPerMsg', 1, FW)} | ${SERVERS[t as Target].redis ? `${fmt(get(t, 'cpu.redisCpuUsPerMsg'), 1)} / ${fmt(get(t, 'latency50.redisCpuUsPerMsg'), 1)}` : '—'} | ${fmt(get(t, 'cpu.serverReadSyscallsPerMsg'), 2)} / ${fmt(get(t, 'cpu.serverWriteSyscallsPerMsg'), 2)} | ${cell(t, 'cpu.loadgenCpuUsPerMsg', 1, [])} | ${errOf(t, 'latency1') ?? `${fmt(get(t, 'latency1.p50'), 2)} / ${fmt(get(t, 'latency1.p99'), 2)}`} | ${cell(t, 'latency50.p50', 2, FW)} | ${cell(t, 'latency50.p99', 2, FW)} | ${cell(t, 'setup.p50', 2, [['socketio', 'sio'], ...FW])} | ${cell(t, 'setup.p99', 2, [['socketio', 'sio']])} | ${cell(t, 'memory.rssPerStream', 2, FW).replace(/\d[\d,.]*(?= \(|$)/, (m) => fmt(Number(m.replace(/,/g, '')) / 1024, 2))} | ${cell(t, 'memory.heapPerStream', 2, FW).replace(/\d[\d,.]*(?= \(|$)/, (m) => fmt(Number(m.replace(/,/g, '')) / 1024, 2))} | ${fmt(100 * (get(t, 'memory.idleCpuUtilEmpty') ?? NaN), 2)} / ${fmt(100 * (get(t, 'memory.idleCpuUtilStreams') ?? NaN), 2)} | ${held} |`)
  }
  out()
  out('Ratios in brackets are to the same figure of the floor / the ws relay (sio: socket.io polling), measured in this run.')
  const other: number[] = []
  for (const t of ts) for (const ph of ['latency1', 'latency50', 'cpu']) for (const r of results[t][ph]?.rounds ?? []) if (typeof r.otherCpuUtil === 'number') other.push(r.otherCpuUtil)
  other.sort((a, b) => a - b)
  if (other.length) out(`Noise: CPU used by other processes on the machine during the load windows: median ${fmt(other[Math.floor(other.length / 2)], 2)} cores, max ${fmt(other[other.length - 1], 2)} cores (of 2).`)
  out()
  out('### how each target relays and is measured')
  out()
  for (const t of ts) out(`- **${t}**: ${SERVERS[t].relays}`)
  out(`- **Every target** is its own server process (\`node --expose-gc --import tsx --import bench/servers/probe.ts <server>\`, the pid measured is node's own) with one load-generator process (\`bench/loadgen.ts\`) of its own; CPU = utime+stime from /proc/<pid>/stat over the measuring window.`)
  out(`- **Load phases** (CPU, latency, call set-up) run interleaved over all targets, ${P.rounds} round(s); each figure is the median over the rounds (every round is in the JSON). Each phase first waits (≤ ${P.cpu.quietMs / 1000} s) for a 500 ms window in which other processes use < 0.5 core.`)
  out(`- **CPU / msg**: ${P.cpu.pairs} pairs, each sender sends its next ICE candidate as soon as the previous one was acknowledged *and* delivered (closed loop, one in flight per pair); a warm-up of at least ${P.cpu.warmMs / 1000} s and ${P.cpu.warmMsgs.toLocaleString('en')} delivered messages (V8 compiles the hot path over the first thousands), ${P.cpu.measureMs / 1000} s measured; server CPU delta / messages delivered. Whoever saturates first (server or load generator) sets the rate, so busy servers batch more; the paced column (the 50-pair latency phase, the same offered load for every target) is the like-for-like check.`)
  out(`- **Latency**: one-way, sender's performance.now() in the candidate → receiver's (same process). 1 pair sends every ${P.latency1.intervalMs} ms; 50 pairs each every ${P.latency50.intervalMs} ms (${(1000 / P.latency50.intervalMs) * 50} msg/s in all, random phases); ${P.latency50.measureMs / 1000} s measured after ${P.latency50.warmMs / 1000} s warm-up. Includes the load generator's own event-loop delay.`)
  out(`- **Call set-up**: one call at a time, fresh names with open streams (untimed): caller sends offer then, once acknowledged, 1 candidate; callee on the offer sends answer then 1 candidate; done when both hold the other's SDP and candidate. sigpost: POST /v1/calls → incomingCall → POST accept → callResponse, candidates via POST …/candidates. ${P.setup.count} calls after ${P.setup.warmup} warm-up per round.`)
  out(`- **Idle stream memory**: ${P.memory.count} registered names each holding an open stream (SSE response / waiting long-poll / WebSocket / socket.io polling client), ${P.memory.holdMs / 1000} s idle; (server RSS from /proc, JS heapUsed after a forced GC via IPC) after − before, / streams. Includes each name's session/registration. Server CPU measured over 1 s before any client and over the idle hold.`)
  if (P.maxStreams) out(`- **Streams held**: fresh server, streams opened ${P.maxStreams.step.toLocaleString('en-US')} at a time from ${LOADGENS} load-generator processes, up to ${P.maxStreams.cap.toLocaleString('en-US')} (the cap: this container's hard fd limit is 20,000 per process and cannot be raised, so one server cannot hold more than ~19,900 sockets), while server RSS ≤ ${BUDGET_MIB} MiB (the budget); then held ${P.maxStreams.holdMs / 1000} s and counted ("N alive" if fewer survived).`)
  out()
  // targets: met / not met
  out('### targets: met / not met')
  out()
  const sig = ts.filter((t) => t.startsWith('sigpost'))
  out(`| target | ${sig.join(' | ')} |`)
  out(`|---|${sig.map(() => '---').join('|')}|`)
  const verdict = (r: number | undefined, limit: number, unit = '×') => (r === undefined ? 'not measured' : `${r <= limit ? '**met**' : '**not met**'} (${unit === '×' ? `${r.toFixed(2)}×` : `${fmt(r, 2)} ${unit}`})`)
  out(`| server CPU per relayed message ≤ 1.3× floor | ${sig.map((t) => verdict(ratio(get(t, 'cpu.serverCpuUsPerMsg'), get('floor', 'cpu.serverCpuUsPerMsg')), 1.3)).join(' | ')} |`)
  out(`| (same, at 1,000 msg/s paced) | ${sig.map((t) => verdict(ratio(get(t, 'latency50.serverCpuUsPerMsg'), get('floor', 'latency50.serverCpuUsPerMsg')), 1.3)).join(' | ')} |`)
  out(`| default logging ≤ 1.15× silent (CPU per message) | ${sig.map((t) => (t === 'sigpost-sse-logs' ? verdict(ratio(get(t, 'cpu.serverCpuUsPerMsg'), get('sigpost-sse', 'cpu.serverCpuUsPerMsg')), 1.15) : '—')).join(' | ')} |`)
  out(`| Redis CPU ≤ 50 µs per relayed message (closed loop) | ${sig.map((t) => (SERVERS[t as Target].redis ? verdict(get(t, 'cpu.redisCpuUsPerMsg'), 50, 'µs') : '—')).join(' | ')} |`)
  out(`| Redis CPU ≤ 50 µs per relayed message (1,000 msg/s paced) | ${sig.map((t) => (SERVERS[t as Target].redis ? verdict(get(t, 'latency50.redisCpuUsPerMsg'), 50, 'µs') : '—')).join(' | ')} |`)
  out(`| 50-pair latency p50 ≤ 1.5× ws relay | ${sig.map((t) => verdict(ratio(get(t, 'latency50.p50'), get('ws', 'latency50.p50')), 1.5)).join(' | ')} |`)
  out(`| 50-pair latency p99 ≤ 2 ms | ${sig.map((t) => verdict(get(t, 'latency50.p99'), 2, 'ms')).join(' | ')} |`)
  out(`| idle stream ≤ 5 KiB server memory (RSS) | ${sig.map((t) => verdict(divide(get(t, 'memory.rssPerStream'), 1024), 5, 'KiB')).join(' | ')} |`)
  out(`| idle stream ≤ 5 KiB server memory (JS heap) | ${sig.map((t) => verdict(divide(get(t, 'memory.heapPerStream'), 1024), 5, 'KiB')).join(' | ')} |`)
  out(`| call set-up p50 ≤ ¼ of socket.io polling | ${sig.map((t) => verdict(ratio(get(t, 'setup.p50'), get('socketio', 'setup.p50')), 0.25)).join(' | ')} |`)
  out(`| call set-up p99 ≤ ¼ of socket.io polling | ${sig.map((t) => verdict(ratio(get(t, 'setup.p99'), get('socketio', 'setup.p99')), 0.25)).join(' | ')} |`)
  if (P.maxStreams) out(`| ${P.maxStreams.cap.toLocaleString('en-US')} open streams within ${BUDGET_MIB} MiB RSS | ${sig.map((t) => { const m = results[t].maxStreams; return m && !m.error ? `${m.withinBudget >= P.maxStreams!.cap ? '**met**' : '**not met**'} (${m.withinBudget.toLocaleString('en-US')} @ ${fmt(m.rssAtWithin / 1048576, 0)} MiB)` : 'not measured' }).join(' | ')} |`)
  out()
  out('The idle-memory target is for SSE streams; the long-poll column is shown for information (its "stream" is a waiting poll).')
  return lines.join('\n')
}
const divide = (v: number | undefined, d: number) => (v === undefined ? undefined : v / d)

/**
 * The guard (issue 23): CPU per relayed message against the floor of the same run, and Redis's CPU per
 * message, each with a threshold; past one, the bench exits with 3. The thresholds are the issue-23
 * figures with room for this shared machine's noise (ratios moved by ±25 % between rounds), so only a
 * real regression trips them: --guard-sse=, --guard-poll=, --guard-redis-us= set others.
 * Not part of npm test: timings stay out of the suite.
 */
const GUARD = {
  'sigpost-sse': Number(opt('guard-sse') ?? 2.2),
  'sigpost-poll': Number(opt('guard-poll') ?? 3.5),
  'sigpost-redis': Number(opt('guard-sse') ?? 2.2),
} as Record<string, number>
const GUARD_REDIS_US = Number(opt('guard-redis-us') ?? 100)

function guard(): { lines: string[]; failed: boolean } {
  const lines: string[] = ['### guard: CPU per relayed message against the floor of this run', '']
  let failed = false
  const floor = get('floor', 'cpu.serverCpuUsPerMsg')
  if (floor === undefined) return { lines: [...lines, 'not checked: no floor measured in this run (add floor to --targets, cpu to --phases)'], failed }
  for (const t of TARGETS) {
    const limit = GUARD[t]
    if (limit === undefined) continue
    const r = ratio(get(t, 'cpu.serverCpuUsPerMsg'), floor)
    if (r === undefined) {
      lines.push(`- ${t}: not measured (${errOf(t, 'cpu') ?? 'no cpu phase'}): **fails**`)
      failed = true
      continue
    }
    const ok = r <= limit
    failed ||= !ok
    lines.push(`- ${t}: ${r.toFixed(2)}× the floor (threshold ${limit.toFixed(2)}×, target 1.30×): ${ok ? 'ok' : '**fails**'}`)
    if (SERVERS[t as Target].redis) {
      const us = get(t, 'cpu.redisCpuUsPerMsg')
      const redisOk = us !== undefined && us <= GUARD_REDIS_US
      failed ||= !redisOk
      lines.push(`- ${t}: Redis ${fmt(us, 1)} µs per message (threshold ${GUARD_REDIS_US} µs, target 50 µs): ${redisOk ? 'ok' : '**fails**'}`)
    }
  }
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  lines.push('', `load average at the end: ${load} (2 cores; the thresholds allow for a shared machine)`, failed ? 'guard: **FAILED** (exit code 3)' : 'guard: ok')
  return { lines, failed }
}

// ---------------------------------------------------------------- main

mkdirSync(RESULTS, { recursive: true })
try {
  if (PROFILE) {
    await runProfile()
  } else if (HEAP) {
    await runHeap()
  } else {
    await runAll()
    const table = printTables()
    console.log(table)
    const checked = PHASES.includes('cpu') ? guard() : undefined
    if (checked) console.log(`\n${checked.lines.join('\n')}`)
    writeFileSync(resolve(RESULTS, 'latest.json'), JSON.stringify({ quick: QUICK, date: new Date().toISOString(), node: process.version, params: P, targets: TARGETS, results, table, guard: checked }, null, 2))
    log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s; JSON in bench/results/latest.json`)
    if (checked?.failed) {
      killAll()
      process.exit(3)
    }
  }
} finally {
  killAll()
}
process.exit(0)
