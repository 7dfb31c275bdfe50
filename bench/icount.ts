/**
 * Instructions per relayed message, counted by valgrind's callgrind: a measure that does not move with
 * the machine's load (the bench's CPU-time figures do, on a shared 2-core machine), for bisecting and
 * A/B-testing one change. User-space instructions of the server process only (syscalls are the kernel's).
 *
 *   npx tsx bench/icount.ts [--target=sigpost-sse|sigpost-poll|floor|fastify-floor] [--dir=<checkout with dist/>] [--msgs=2000] [--pairs=8]
 *
 * Two servers run under callgrind side by side, each relays `warm` candidates (the JIT settles), then one
 * `msgs` more and the other 2 × `msgs` (closed loop over `pairs` pairs), then each exits and callgrind
 * writes its total: (second − first) / msgs is the steady state's instructions per message, start-up,
 * warm-up and exit cancelling out. (callgrind_control's zero/dump through vgdb miscounted here.)
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ANSWER, OFFER, candidate, makeDriver, type Endpoint } from './lib/drivers.js'

const argv = process.argv.slice(2)
const opt = (name: string, fallback: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback
const target = opt('target', 'sigpost-sse')
const dir = resolve(opt('dir', resolve(import.meta.dirname, '..')))
const MSGS = Number(opt('msgs', '2000'))
const PAIRS = Number(opt('pairs', '8'))
const WARM = Number(opt('warm', '3000'))
const HOST = '127.0.0.1'
/** As bench/run.ts's SIGPOST_ENV (rate, mailbox and candidate limits lifted); extra KEY=VALUE pairs via --env=K=V,K=V. */
const env: Record<string, string> = {
  LOG_LEVEL: 'silent', RATE_REGISTER_PER_WINDOW: '1000000000', RATE_SEND_PER_WINDOW: '1000000000', MAILBOX_MAX_EVENTS: '1000000',
  MAILBOX_MAX_BYTES: '1073741824', GRACE_MS: '600000', MAX_CONNECTIONS_PER_IP: '0', MAX_CANDIDATES_PER_CALL: '1000000000',
  MAX_SESSIONS_PER_IP: '1000000000', RATE_UNAUTHENTICATED_PER_WINDOW: '1000000000',
}
for (const kv of argv.find((a) => a.startsWith('--env='))?.slice(6).split(',') ?? []) {
  const [k, ...v] = kv.split('=')
  if (v.length === 0) delete env[k]
  else env[k] = v.join('=')
}

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = net.createServer().listen(0, HOST, () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => res(port))
    })
  })
}


async function measure(msgs: number): Promise<number> {
  const port = await freePort()
  const out = mkdtempSync(join(tmpdir(), 'icount-'))
  const script = target.startsWith('sigpost') ? [join(dir, 'dist/server/main.js')] : ['--import', 'tsx', resolve(import.meta.dirname, `servers/${target}.ts`)]
  const server = spawn('valgrind', ['--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${out}/cg`, process.execPath, ...script], {
    cwd: dir, env: { ...process.env, ...env, PORT: String(port), HOST }, stdio: ['ignore', 'ignore', 'pipe'],
  })
  let errText = ''
  server.stderr!.on('data', (d: Buffer) => (errText = (errText + d).slice(-4000)))
  const exited = new Promise<void>((res) => server.once('exit', () => res()))
  process.once('exit', () => server.exitCode === null && server.kill('SIGKILL'))
  try {
    for (let i = 0; ; i++) {
      if (server.exitCode !== null) throw new Error(`server exited\n${errText}`)
      const ok = await new Promise<boolean>((res) => {
        const s = net.connect(port, HOST)
        s.once('connect', () => { s.destroy(); res(true) }).once('error', () => { s.destroy(); res(false) })
      })
      if (ok) break
      if (i > 4500) throw new Error("server not listening after 900 s")
      await sleep(200)
    }
    const driver = makeDriver(target, HOST, port)
    const pairs: Array<{ a: Endpoint; b: Endpoint }> = []
    for (let i = 0; i < PAIRS; i++) {
      const a = await driver.open(`ia${i}`)
      const b = await driver.open(`ib${i}`)
      // offer → answer links the pair as a call (sigpost); the floor has no calls.
      if (target.startsWith('sigpost')) {
        await new Promise<void>((res, rej) => {
          b.onMsg = (m) => { if (m.type === 'offer') b.send(a, 'answer', ANSWER).catch(rej) }
          a.onMsg = (m) => { if (m.type === 'answer') res() }
          a.send(b, 'offer', OFFER).catch(rej)
        })
      }
      pairs.push({ a, b })
    }
    await relay(pairs, WARM + msgs)
    for (const p of pairs) await Promise.all([p.a.close(), p.b.close()])
    driver.close()
    server.kill('SIGTERM')
    await exited
    const m = /^totals:\s+(\d+)/m.exec(readFileSync(join(out, 'cg'), 'utf8'))
    if (!m) throw new Error(`no callgrind totals\n${errText}`)
    return Number(m[1])
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
}

/** Relays n candidates closed-loop (one in flight per pair: acknowledged and delivered). */
async function relay(pairs: Array<{ a: Endpoint; b: Endpoint }>, n: number): Promise<void> {
  let left = n
  await Promise.all(pairs.map(async ({ a, b }) => {
    const c = candidate('0')
    let delivered: (() => void) | undefined
    b.onMsg = (m) => { if (m.type === 'candidate') delivered?.() }
    while (left-- > 0) {
      const got = new Promise<void>((res) => (delivered = res))
      await Promise.all([a.send(b, 'candidate', c), got])
    }
  }))
}

const [one, two] = await Promise.all([measure(MSGS), measure(2 * MSGS)])
console.log(JSON.stringify({ target, dir, env: argv.find((a) => a.startsWith('--env=')), msgs: MSGS, pairs: PAIRS, warm: WARM, irPerMsg: Math.round((two - one) / MSGS), totals: [one, two] }))
process.exit(0)
