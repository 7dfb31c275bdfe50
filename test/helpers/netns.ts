/**
 * Linux network namespaces for tests that need a real network shape (a firewall, a proxy as the only way
 * out, hosts that resolve by name) without touching the machine's own network: every namespace, link and
 * address is created by the test and exists only inside namespaces it created; the root namespace gets
 * nothing (its loopback carries only the test's own control connections).
 *
 * Names: `sgp-<pid>-<n>-<role>`, so that a run that was killed (SIGKILL, a time-out) can be recognised
 * later: `sweepStaleNamespaces()` (called by `createNamespaces`) removes every `sgp-*` namespace, its
 * processes, its /etc/netns folder and its temp dir whose owning PID is dead. A live run tears down its
 * own namespaces on `t.teardown`, and synchronously on process 'exit', SIGINT and SIGTERM.
 *
 * Needs root, iproute2 (`ip netns`) and nftables (`nft`): scripts/test.sh installs them.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Teardown {
  teardown(fn: () => unknown): void
}

const PREFIX = 'sgp-'
const NAME = /^sgp-(\d+)-\d+-[a-z]+$/
const TEMP = /^sigpost-net-(\d+)-/
let sequence = 0

const alive = (pid: number) => existsSync(`/proc/${pid}`)

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** Kills every process inside namespace `name` (by PID, as `ip netns pids` lists them), then deletes it. */
function destroyNamespace(name: string): void {
  for (let round = 0; round < 3; round++) {
    let pids: string[] = []
    try {
      pids = ip('netns', 'pids', name).split('\n').filter(Boolean)
    } catch {
      break
    }
    if (pids.length === 0) break
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL')
      } catch {}
    }
  }
  try {
    ip('netns', 'delete', name)
  } catch {}
  rmSync(join('/etc/netns', name), { recursive: true, force: true })
}

/** Every `sgp-*` namespace whose owning PID is dead, with what it left behind (processes, /etc/netns, temp dirs). */
export function sweepStaleNamespaces(): string[] {
  const swept: string[] = []
  let names: string[] = []
  try {
    names = ip('netns', 'list').split('\n').map((line) => line.split(' ')[0]).filter(Boolean)
  } catch {}
  const etc = existsSync('/etc/netns') ? readdirSync('/etc/netns') : []
  for (const name of new Set([...names, ...etc])) {
    const match = NAME.exec(name)
    if (!match || alive(Number(match[1]))) continue
    destroyNamespace(name)
    swept.push(name)
  }
  for (const entry of readdirSync(tmpdir())) {
    const match = TEMP.exec(entry)
    if (match && !alive(Number(match[1]))) rmSync(join(tmpdir(), entry), { recursive: true, force: true })
  }
  return swept
}

export interface Namespaces<Role extends string> {
  /** The namespace name of each role, e.g. `sgp-1234-1-office`. */
  names: Record<Role, string>
  /** This run's temp dir (certificates, configs, logs, browser profiles), removed on teardown. */
  dir: string
  /** Runs a command to completion inside the namespace; throws with its stderr on failure. */
  run(role: Role, command: string, args: string[], input?: string): string
  /** Writes /etc/netns/<ns>/<file> (e.g. `hosts`, `resolv.conf`): `ip netns exec` bind-mounts it over /etc/<file>. */
  etc(role: Role, file: string, content: string): void
  /** Tears everything down now (also done on teardown and at process exit). */
  destroy(): void
}

/**
 * Creates one namespace per role, each with its loopback up, and a temp dir. Stale namespaces of dead
 * runs are swept first.
 */
export function createNamespaces<Role extends string>(t: Teardown, roles: readonly Role[]): Namespaces<Role> {
  sweepStaleNamespaces()
  const run = `${process.pid}-${++sequence}`
  const names = Object.fromEntries(roles.map((role) => [role, `${PREFIX}${run}-${role}`])) as Record<Role, string>
  const dir = mkdtempSync(join(tmpdir(), `sigpost-net-${run}-`))
  let destroyed = false
  const destroy = () => {
    if (destroyed) return
    destroyed = true
    process.removeListener('exit', destroy)
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
    for (const name of Object.values<string>(names)) destroyNamespace(name)
    rmSync(dir, { recursive: true, force: true })
  }
  // Killed by a signal: clean up, then die of the same signal (the listener is gone by then).
  const onSignal = (signal: NodeJS.Signals) => {
    destroy()
    process.kill(process.pid, signal)
  }
  process.once('exit', destroy)
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  t.teardown(destroy)
  try {
    for (const name of Object.values<string>(names)) {
      ip('netns', 'add', name)
      ip('-n', name, 'link', 'set', 'lo', 'up')
    }
  } catch (error) {
    destroy()
    throw error
  }
  return {
    names,
    dir,
    run(role, command, args, input) {
      try {
        return execFileSync('ip', ['netns', 'exec', names[role], command, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] })
      } catch (error) {
        const e = error as { stderr?: string; message: string }
        throw new Error(`in ${role}: ${command} ${args.join(' ')}: ${e.stderr || e.message}`)
      }
    },
    etc(role, file, content) {
      const folder = join('/etc/netns', names[role])
      mkdirSync(folder, { recursive: true })
      writeFileSync(join(folder, file), content)
    },
    destroy,
  }
}

/**
 * A veth pair between two namespaces, created inside them (never in the root namespace), with an address
 * on each end: `link(ns, 'office', 'lan', '10.10.0.2/24', 'edge', 'lan', '10.10.0.1/24')`.
 */
export function link(names: Record<string, string>, a: string, aDev: string, aAddr: string, b: string, bDev: string, bAddr: string): void {
  ip('-n', names[a], 'link', 'add', aDev, 'type', 'veth', 'peer', 'name', bDev, 'netns', names[b])
  for (const [ns, dev, addr] of [[names[a], aDev, aAddr], [names[b], bDev, bAddr]]) {
    ip('-n', ns, 'addr', 'add', addr, 'dev', dev)
    ip('-n', ns, 'link', 'set', dev, 'up')
  }
}

/** Adds more addresses to a device (e.g. one per server name). */
export function addAddress(ns: string, dev: string, addr: string): void {
  ip('-n', ns, 'addr', 'add', addr, 'dev', dev)
}

export interface NsProcess {
  process: ChildProcess
  /** Everything it wrote to stdout and stderr so far. */
  output(): string
  /** SIGTERM, SIGKILL after 3 s; resolves when it has exited. */
  stop(): Promise<void>
}

/**
 * Starts `command` inside namespace `ns` (`ip netns exec` execs it: the child's PID is the command's) and
 * waits until something listens on `listen` (`address:port`, TCP) inside that namespace, or it exits.
 * Stopped by PID on teardown; killed with the namespace if the test dies.
 */
export async function startIn(
  t: Teardown,
  ns: string,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; listen?: string; logs?: () => string } = {},
): Promise<NsProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, command, ...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const lingering = setTimeout(() => child.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(lingering)
    }
  }
  t.teardown(stop)
  if (options.listen) {
    try {
      await waitForListen(ns, options.listen, exited, () => `${output}\n${options.logs?.() ?? ''}`)
    } catch (error) {
      await stop()
      throw error
    }
  }
  return { process: child, output: () => output, stop }
}

/** Polls `ss` inside the namespace (the root namespace cannot connect there) until `address:port` listens. */
async function waitForListen(ns: string, listen: string, exited: Promise<void>, output: () => string): Promise<void> {
  let gone = false
  void exited.then(() => (gone = true))
  const guard = Date.now() + 30_000
  for (;;) {
    if (gone) throw new Error(`process exited before listening on ${listen} in ${ns}: ${output()}`)
    const table = execFileSync('ip', ['netns', 'exec', ns, 'ss', '-Hltn'], { encoding: 'utf8' })
    if (table.split('\n').some((line) => line.split(/\s+/)[3] === listen)) return
    if (Date.now() > guard) throw new Error(`nothing listens on ${listen} in ${ns} after 30 s: ${output()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Reads a file if it exists ('' otherwise): for logs of processes that may not have written yet. */
export const readIfExists = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '')
