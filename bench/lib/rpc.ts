/** Request/response over a child-process IPC channel, both ways (bench ⇄ load generator ⇄ server probe). */
import type { ChildProcess } from 'node:child_process'

type Channel = Pick<ChildProcess, 'send' | 'on' | 'off'> | NodeJS.Process

export class Rpc {
  private next = 1
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>()

  constructor(
    private readonly channel: Channel,
    handler?: (cmd: string, args: any) => Promise<unknown>,
  ) {
    ;(channel as NodeJS.Process).on('message', (msg: any) => {
      if (!msg || typeof msg !== 'object' || typeof msg.id !== 'number') return
      if ('cmd' in msg) {
        if (!handler) return
        handler(msg.cmd, msg.args).then(
          (result) => channel.send!({ id: msg.id, result }),
          (error: unknown) => channel.send!({ id: msg.id, error: error instanceof Error ? error.stack ?? error.message : String(error) }),
        )
        return
      }
      const p = this.pending.get(msg.id)
      if (!p) return
      this.pending.delete(msg.id)
      if ('error' in msg) p.reject(new Error(msg.error))
      else p.resolve(msg.result)
    })
  }

  call<T = any>(cmd: string, args?: unknown, timeoutMs = 15 * 60_000, extra: object = {}): Promise<T> {
    const id = this.next++ + Math.floor(Math.random() * 1e9) * 1000
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`rpc ${cmd} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      timer.unref()
      this.pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v) },
        reject: (e) => { clearTimeout(timer); reject(e) },
      })
      this.channel.send!({ id, cmd, args, ...extra })
    })
  }

  failAll(error: Error): void {
    for (const p of this.pending.values()) p.reject(error)
    this.pending.clear()
  }
}
