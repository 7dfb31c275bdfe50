/** sigpost as separate processes (`node --import tsx server/main.ts`), as operators run it: for multi-instance tests. */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { freePort, waitForPort } from './redis.js'

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
