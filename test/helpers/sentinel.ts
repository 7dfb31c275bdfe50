/**
 * A Sentinel-managed Redis on loopback ports, as docs/operations.md lays it out: one primary, one replica and
 * three sentinels (quorum 2), all Debian's redis-server / redis-sentinel started by the test and stopped
 * by PID, their temp dirs removed afterwards. Failover is tuned fast for tests (down-after 400 ms).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort, startRedis, waitForPort, type RedisServer } from './redis.js'
import { until } from './wait.js'

export const SENTINEL_NAME = 'sigpost-primary'

/** Every server may become the primary, so every one streams full syncs at once (no 5 s diskless delay). */
const SERVER_ARGS = ['--repl-diskless-sync-delay', '0', '--repl-ping-replica-period', '1']

export interface SentinelGroup {
  /** REDIS_SENTINELS */
  sentinels: string
  name: string
  /** The data servers by port (the primary and its replica; a killed one is gone until rejoin). */
  servers: Map<number, RedisServer & { dir: string }>
  /** The primary's port, as the sentinels see it now. */
  primaryPort(): Promise<number>
  /**
   * kill -9 of the current primary; resolves with its port once it is dead, and `promoted`, which
   * resolves with the new primary's port once the sentinels announce the promotion (+switch-master).
   */
  killPrimary(): Promise<{ port: number; promoted: Promise<number> }>
  /** Starts a server on `port` again, as a replica of the current primary, and waits until it is in sync. */
  rejoin(port: number): Promise<void>
  stop(): Promise<void>
}

interface Teardown {
  teardown(fn: () => unknown): void
}

export async function startSentinelGroup(t: Teardown | undefined, options: { downAfterMs?: number } = {}): Promise<SentinelGroup> {
  const servers = new Map<number, RedisServer & { dir: string }>()
  const sentinels: Array<{ port: number; process: ChildProcess; dir: string; exited: Promise<void> }> = []
  const clients: Redis[] = []
  const stop = async () => {
    for (const client of clients) client.disconnect()
    await Promise.all([...servers.values()].map((server) => server.stop()))
    await Promise.all(sentinels.map(async (sentinel) => {
      if (sentinel.process.exitCode === null && sentinel.process.signalCode === null) {
        sentinel.process.ref()
        sentinel.process.kill('SIGKILL')
        await sentinel.exited
      }
      rmSync(sentinel.dir, { recursive: true, force: true })
    }))
  }
  t?.teardown(stop)
  // A test process may end without teardown (a crash): kill by PID on exit.
  // (The shared group of SIGPOST_TEST_STORE=sentinel is stopped only this way: its dirs go too.)
  process.once('exit', () => {
    for (const server of servers.values()) {
      server.process.kill('SIGKILL')
      rmSync(server.dir, { recursive: true, force: true })
    }
    for (const sentinel of sentinels) {
      sentinel.process.kill('SIGKILL')
      rmSync(sentinel.dir, { recursive: true, force: true })
    }
  })

  const primary = await startRedis({ args: SERVER_ARGS })
  servers.set(primary.port, primary)
  const replica = await startRedis({ args: [...SERVER_ARGS, '--replicaof', '127.0.0.1', String(primary.port)] })
  servers.set(replica.port, replica)
  const primaryClient = new Redis(primary.port, '127.0.0.1', { lazyConnect: true })
  clients.push(primaryClient)
  await primaryClient.connect()
  // The replica is in sync once a write is acknowledged by it.
  await until(async () => (await primaryClient.set('sync-probe', '1'), await primaryClient.wait(1, 1000)) >= 1, 'the replica to sync', { everyMs: 0 })
  primaryClient.disconnect()

  for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(primary.port, options.downAfterMs ?? 400))
  const sentinelList = sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')
  const watchers = sentinels.map((s) => new Redis(s.port, '127.0.0.1'))
  clients.push(...watchers)
  // A failover needs every sentinel to know the replica and a quorum of the others (hello messages every
  // 2 s): wait for that before a test may kill anything.
  for (const watcher of watchers) {
    await until(async () => {
      const [known, peers] = await Promise.all([
        watcher.call('SENTINEL', 'REPLICAS', SENTINEL_NAME) as Promise<unknown[]>,
        watcher.call('SENTINEL', 'SENTINELS', SENTINEL_NAME) as Promise<unknown[]>,
      ])
      return known.length >= 1 && peers.length >= 2
    }, 'every sentinel to know the replica and two peers', { everyMs: 100 })
  }
  // No idle connection may keep the test process alive: each use opens and closes its own.
  for (const watcher of watchers) watcher.disconnect()

  const primaryPort = async () => {
    const admin = new Redis(sentinels[0].port, '127.0.0.1')
    try {
      return Number(((await admin.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME)) as string[])[1])
    } finally {
      admin.disconnect()
    }
  }
  return {
    sentinels: sentinelList,
    name: SENTINEL_NAME,
    servers,
    primaryPort,
    async killPrimary() {
      const events = new Redis(sentinels[1].port, '127.0.0.1')
      clients.push(events)
      await events.subscribe('+switch-master')
      const promoted = new Promise<number>((resolve) => events.on('message', (_channel: string, message: string) => {
        // "<name> <old-ip> <old-port> <new-ip> <new-port>"
        const parts = message.split(' ')
        if (parts[0] !== SENTINEL_NAME) return
        events.disconnect()
        resolve(Number(parts[4]))
      }))
      const port = await primaryPort()
      const server = servers.get(port)!
      servers.delete(port)
      await server.stop()
      return { port, promoted }
    },
    async rejoin(port: number) {
      // The sentinel asked may not have heard of the promotion yet: ask until it names another server.
      let current = port
      await until(async () => (current = await primaryPort()) !== port, `a sentinel to name another primary than ${port}`, { everyMs: 50 })
      const server = await startRedis({ port, args: [...SERVER_ARGS, '--replicaof', '127.0.0.1', String(current)] })
      servers.set(port, server)
      // WAIT returns once a replica acknowledged this connection's write: the new replica is in sync. Asked of
      // whichever server a sentinel names now, and again after an error: right after a promotion the one named
      // can still be changing roles (seen once: "WAIT cannot be used with replica instances").
      await until(async () => {
        const client = new Redis(await primaryPort(), '127.0.0.1', { maxRetriesPerRequest: 1, lazyConnect: true })
        try {
          await client.connect()
          await client.set('sync-probe', String(Date.now()))
          return (await client.wait(1, 1000)) >= 1
        } catch {
          return false
        } finally {
          client.disconnect()
        }
      }, `the rejoined ${port} to sync`, { everyMs: 50 })
    },
    stop,
  }
}

async function startSentinel(primaryPort: number, downAfterMs: number): Promise<{ port: number; process: ChildProcess; dir: string; exited: Promise<void> }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const dir = mkdtempSync(join(tmpdir(), 'sigpost-sentinel-'))
    const log = join(dir, 'sentinel.log')
    // Sentinel rewrites its config file (it must be writable): one per sentinel, in its own dir.
    writeFileSync(join(dir, 'sentinel.conf'), [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `logfile ${log}`,
      `sentinel monitor ${SENTINEL_NAME} 127.0.0.1 ${primaryPort} 2`,
      `sentinel down-after-milliseconds ${SENTINEL_NAME} ${downAfterMs}`,
      `sentinel failover-timeout ${SENTINEL_NAME} 2000`,
      `sentinel parallel-syncs ${SENTINEL_NAME} 1`,
      '',
    ].join('\n'))
    const child = spawn('redis-sentinel', [join(dir, 'sentinel.conf')], { stdio: 'ignore' })
    child.unref()
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    try {
      await waitForPort(port, exited, () => (existsSync(log) ? readFileSync(log, 'utf8') : ''))
      return { port, process: child, dir, exited }
    } catch (error) {
      rmSync(dir, { recursive: true, force: true })
      if (attempt >= 5 || !/in use|EADDRINUSE/i.test(String(error))) throw error
    }
  }
}
