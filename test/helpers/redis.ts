/** A real redis-server (Debian's) on a free loopback port, started for a test and stopped by PID. */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface RedisServer {
  url: string
  port: number
  process: ChildProcess
  stop(keepData?: boolean): Promise<void>
}

/**
 * What this process started, cleaned up when it exits however it ends: an 'exit' handler runs
 * synchronously (a promise's .then would never run), so it kills by PID and removes with rmSync.
 */
const running = new Set<ChildProcess>()
const createdDirs = new Set<string>()
process.once('exit', () => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  for (const dir of createdDirs) rmSync(dir, { recursive: true, force: true })
})

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/**
 * `durable` keeps every write on disk (appendfsync always) in `dir`, so that a restart on the same port
 * and dir comes back with the data, as a production Redis with persistence would.
 */
export interface RedisOptions {
  port?: number
  dir?: string
  durable?: boolean
  /** More redis-server arguments (`--replicaof`, ...). */
  args?: string[]
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisServer & { dir: string }> {
  // A free port can be taken by another test process before redis binds it: then try another.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRedisOnce(options)
    } catch (error) {
      if (options.port !== undefined || attempt >= 5 || !/in use|EADDRINUSE/i.test(String(error))) throw error
    }
  }
}

async function startRedisOnce(options: RedisOptions): Promise<RedisServer & { dir: string }> {
  const chosen = options.port ?? (await freePort())
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sigpost-redis-'))
  createdDirs.add(dir)
  const log = join(dir, 'redis.log')
  const persistence = options.durable ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']
  const child = spawn('redis-server', ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir, '--logfile', log, '--loglevel', 'warning', ...(options.args ?? [])], { stdio: 'ignore' })
  // The test process may end while it runs: the exit handler of the caller kills it by PID.
  child.unref()
  running.add(child)
  const exited = new Promise<void>((resolve) => child.once('exit', () => { running.delete(child); resolve() }))
  await waitForPort(chosen, exited, () => (existsSync(log) ? readFileSync(log, 'utf8') : ''))
  return {
    url: `redis://127.0.0.1:${chosen}`,
    port: chosen,
    dir,
    process: child,
    async stop(keepData = false) {
      if (child.exitCode === null && child.signalCode === null) {
        child.ref() // keep the test process alive until the exit is seen
        child.kill('SIGKILL')
        await exited
      }
      if (!keepData) {
        rmSync(dir, { recursive: true, force: true })
        createdDirs.delete(dir)
      }
    },
  }
}

/** Resolves when something accepts connections on the port; rejects if the process exits first. */
export async function waitForPort(port: number, exited: Promise<void>, output: () => string): Promise<void> {
  let gone = false
  void exited.then(() => (gone = true))
  const deadline = Date.now() + 60_000
  for (;;) {
    if (gone) throw new Error(`process exited before listening on ${port}: ${output()}`)
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after 60 s: ${output()}`)
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy()
        resolve(true)
      })
      socket.on('error', () => resolve(false))
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
