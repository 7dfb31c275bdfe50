/**
 * A TCP proxy that can black-hole live connections without closing them: what a NAT that forgot a
 * mapping, or a middlebox that stopped forwarding, looks like from both ends. `blackHole()` swallows
 * every byte in both directions of the connections open now (idle keep-alive ones included, which a
 * browser would reuse for its reconnect) while their sockets stay open; connections opened later are
 * forwarded as usual. Loopback only.
 */
import net from 'node:net'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface BlackHole {
  port: number
  /** `http://127.0.0.1:<port>` */
  url: string
  /** Black-holes every connection open now; returns how many. */
  blackHole(): number
  /** Connections forwarded so far (black-holed ones included). */
  connections(): number
  /** Connections black-holed and still open. */
  holes(): number
  stop(): Promise<void>
}

interface Conn {
  socket: net.Socket
  upstream: net.Socket
  hole: boolean
}

export async function startBlackHole(t: Teardown, target: string): Promise<BlackHole> {
  const [host, portText] = target.replace(/^https?:\/\//, '').split(':')
  const live = new Set<Conn>()
  let total = 0
  const server = net.createServer((socket) => {
    total++
    const upstream = net.connect(Number(portText), host)
    const conn: Conn = { socket, upstream, hole: false }
    live.add(conn)
    const close = () => {
      live.delete(conn)
      socket.destroy()
      upstream.destroy()
    }
    socket.on('error', close)
    upstream.on('error', close)
    socket.on('close', close)
    upstream.on('close', () => {
      // A black hole hides the upstream's close too: the client's socket stays open, silent.
      if (conn.hole) return
      close()
    })
    socket.on('data', (chunk) => {
      if (!conn.hole) upstream.write(chunk)
    })
    upstream.on('data', (chunk) => {
      if (!conn.hole) socket.write(chunk)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    for (const conn of [...live]) {
      conn.socket.destroy()
      conn.upstream.destroy()
    }
    live.clear()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.teardown(stop)
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    blackHole() {
      let n = 0
      for (const conn of live) {
        if (conn.hole) continue
        conn.hole = true
        n++
      }
      return n
    },
    connections: () => total,
    holes: () => [...live].filter((conn) => conn.hole).length,
    stop,
  }
}
