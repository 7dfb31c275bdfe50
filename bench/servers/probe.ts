/**
 * Preloaded into every benchmarked server process (`node --expose-gc --import tsx --import ./bench/servers/probe.ts ...`).
 * Answers the bench's IPC requests: memory after a forced GC, and a CPU profile of a chosen window
 * (node:inspector, the same .cpuprofile that `node --cpu-prof` writes, but without the start-up).
 * It adds no timers or listeners on the request path; with no IPC channel it does nothing.
 */
import { Session } from 'node:inspector'
import { writeFileSync } from 'node:fs'
import { writeHeapSnapshot } from 'node:v8'

type Request = { id: number; cmd: 'mem' | 'profile-start' | 'profile-stop' | 'snapshot'; path?: string }

let session: Session | undefined

function post<T>(method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    session!.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result as T)))
  })
}

async function handle(msg: Request): Promise<unknown> {
  switch (msg.cmd) {
    case 'mem': {
      const g = (globalThis as { gc?: () => void }).gc
      if (g) { g(); g() }
      return { ...process.memoryUsage(), gc: Boolean(g) }
    }
    case 'snapshot': {
      const g = (globalThis as { gc?: () => void }).gc
      if (g) { g(); g() }
      return { path: writeHeapSnapshot(msg.path) }
    }
    case 'profile-start':
      session = new Session()
      session.connect()
      await post('Profiler.enable')
      await post('Profiler.setSamplingInterval', { interval: 200 })
      await post('Profiler.start')
      return { ok: true }
    case 'profile-stop': {
      const { profile } = await post<{ profile: unknown }>('Profiler.stop')
      writeFileSync(msg.path!, JSON.stringify(profile))
      session!.disconnect()
      session = undefined
      return { ok: true, path: msg.path }
    }
  }
}

if (process.send) {
  process.on('message', (msg: Request) => {
    if (!msg || typeof msg !== 'object' || !('cmd' in msg)) return
    handle(msg).then(
      (result) => process.send!({ id: msg.id, result }),
      (error: unknown) => process.send!({ id: msg.id, error: String(error) }),
    )
  })
  // The bench is gone (even killed): so is this server.
  process.on("disconnect", () => process.exit(0))
  // The IPC channel must not keep a server alive on its own, nor stop it from exiting.
  process.channel?.unref()
}
