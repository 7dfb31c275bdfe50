/**
 * `npm run abuse [-- --before=<main.js>] [--server=<main.js>] [--only=1,3]`: issue 11's attacks, one after
 * another, each against a fresh sigpost process (`node <build>/dist/server/main.js`, default configuration
 * except where an attack says otherwise), and one markdown table of what each attack achieved. With
 * `--before`, every attack also runs against that build first (an older checkout's dist, e.g. built at the
 * commit before the defences), and the table has a column per build. A measurement, not a test: the
 * figures go into docs/operations.md ("Measured"); nothing here fails on a number.
 *
 * Traffic goes to loopback only (attacker 127.0.0.2, honest users 127.0.0.1). A build is run with its own
 * folder as the working directory (two levels above main.js), so its web assets are its own.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { freePort, waitForPort } from '../test/helpers/redis.js'
import { attacks, type Attack, type Target } from './abuse/attacks.js'

const { values } = parseArgs({
  options: {
    server: { type: 'string', default: fileURLToPath(new URL('../dist/server/main.js', import.meta.url)) },
    before: { type: 'string' },
    only: { type: 'string' },
  },
})

interface Build {
  label: string
  main: string
}

const builds: Build[] = [
  ...(values.before ? [{ label: 'before', main: resolve(values.before) }] : []),
  { label: values.before ? 'after' : 'this build', main: resolve(values.server) },
]
for (const build of builds) {
  if (!existsSync(build.main)) throw new Error(`${build.main} does not exist (node scripts/build-server.mjs builds dist/)`)
}
const chosen = values.only ? values.only.split(',').map((n) => attacks[Number(n) - 1]).filter(Boolean) : attacks

/** Every server still running, killed if this script is interrupted. */
const running = new Set<ChildProcess>()
process.on('exit', () => running.forEach((child) => child.kill('SIGKILL')))
process.on('SIGINT', () => process.exit(130))

interface Server extends Target {
  /** Kills it; says how it ended if it had already exited by itself (a crash is a figure too). */
  stop(): Promise<string>
}

async function startServer(main: string, env: Record<string, string>): Promise<Server> {
  const port = await freePort()
  // Only what the attack sets: the caller's own sigpost variables (LOG_LEVEL...) must not leak in.
  const child = spawn(process.execPath, [main], {
    cwd: resolve(dirname(main), '../..'),
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  let log = ''
  let errors = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await waitForPort(port, exited, () => errors)
  return {
    host: '127.0.0.1',
    port,
    pid: child.pid!,
    log: () => log,
    async stop() {
      running.delete(child)
      const crashed = child.exitCode !== null || child.signalCode !== null
      if (!crashed) {
        child.kill('SIGKILL')
        await exited
      }
      return crashed ? `SERVER EXITED (${child.exitCode ?? child.signalCode}) ${errors.split('\n')[0]}`.trim() : ''
    },
  }
}

async function runAttack(attack: Attack, build: Build): Promise<string> {
  const servers: Server[] = []
  const started = Date.now()
  let cell: string
  try {
    cell = await attack.run(async (env = {}) => {
      const server = await startServer(build.main, env)
      servers.push(server)
      return server
    })
  } catch (error) {
    cell = `attack failed: ${(error as Error).message}`
  }
  const ends = (await Promise.all(servers.map((server) => server.stop()))).filter(Boolean)
  process.stderr.write(`  ${attack.name} [${build.label}] ${((Date.now() - started) / 1000).toFixed(0)} s: ${cell}\n`)
  return [cell, ...ends].join('; ')
}

/** The commit a build was made from: its checkout's HEAD, or a COMMIT file beside a copied dist. */
function revision(main: string): string {
  const root = resolve(dirname(main), '../..')
  const file = resolve(root, 'COMMIT')
  if (existsSync(file)) return ` (${readFileSync(file, 'utf8').trim().slice(0, 10)})`
  try {
    return ` (${execFileSync('git', ['-C', root, 'rev-parse', '--short=10', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()})`
  } catch {
    return ''
  }
}

const results = new Map<Build, string[]>()
const began = Date.now()
// Throughput-bound figures (how much an attacker gets through in a few seconds) depend on the machine.
const load = loadavg()[0]
for (const build of builds) {
  process.stderr.write(`${build.label}: ${build.main}\n`)
  const cells: string[] = []
  for (const attack of chosen) cells.push(await runAttack(attack, build))
  results.set(build, cells)
}

const escape = (text: string) => text.replace(/\|/g, '\\|')
const lines = [
  `| Attack | Figure | ${builds.map((b) => b.label).join(' | ')} | Goal |`,
  `|---|---|${builds.map(() => '---|').join('')}---|`,
  ...chosen.map((attack, i) => `| ${[attack.name, attack.figure, ...builds.map((b) => results.get(b)![i]), attack.goal].map(escape).join(' | ')} |`),
]
console.log(lines.join('\n'))
console.log()
for (const build of builds) console.log(`${build.label}: ${build.main}${revision(build.main)}`)
console.log(`${chosen.length} attacks × ${builds.length} build(s) in ${Math.round((Date.now() - began) / 1000)} s; load average ${load.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end`)
process.exit(0)
