/** sigpost as separate processes (`node --import tsx server/main.ts`), as operators run it: for multi-instance tests. */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { randomUUID } from 'node:crypto'
import { freePort, startRedis, waitForPort } from './redis.js'
import { startSentinelGroup, type SentinelGroup } from './sentinel.js'

const root = fileURLToPath(new URL('../..', import.meta.url))

export interface Instance {
  url: string
  port: number
  process: ChildProcess
  /** kill -9: no shutdown, no goodbye to clients or Redis. */
  kill(): Promise<void>
}

interface Teardown {
  teardown(fn: () => unknown): void
}

export async function startInstance(t: Teardown, env: Record<string, string>): Promise<Instance> {
  // A free port can be taken by another test process before this one binds it: then try another.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(t, env)
    } catch (error) {
      if (attempt >= 5 || !/EADDRINUSE/.test(String(error))) throw error
    }
  }
}

async function startOnce(t: Teardown, env: Record<string, string>): Promise<Instance> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: root,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let errors = ''
  child.stderr!.on('data', (chunk) => (errors += chunk))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  }
  t.teardown(kill)
  await waitForPort(port, exited, () => errors)
  return { url: `http://127.0.0.1:${port}`, port, process: child, kill }
}

/** A real redis-server and `count` sigpost processes sharing it (fresh key prefix, fast timer claims). */
export async function startCluster(t: Teardown, count: number, env: Record<string, string> = {}): Promise<Instance[]> {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const shared = { REDIS_URL: redis.url, REDIS_PREFIX: `c-${randomUUID()}:`, TIMER_POLL_MS: '50', ...env }
  return Promise.all(Array.from({ length: count }, () => startInstance(t, shared)))
}

/** `count` sigpost processes on a Sentinel-managed primary with one replica (test/helpers/sentinel.ts). */
export async function startSentinelCluster(t: Teardown, count: number, env: Record<string, string> = {}): Promise<{ group: SentinelGroup; instances: Instance[] }> {
  const group = await startSentinelGroup(t)
  const shared = { REDIS_SENTINELS: group.sentinels, REDIS_SENTINEL_NAME: group.name, REDIS_PREFIX: `c-${randomUUID()}:`, TIMER_POLL_MS: '50', ...env }
  const instances = await Promise.all(Array.from({ length: count }, () => startInstance(t, shared)))
  return { group, instances }
}
