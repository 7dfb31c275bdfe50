/** Raw TCP clients for what fetch cannot send: slow bytes, oversized headers, invalid HTTP, a chosen source address. */
import net from 'node:net'

export interface RawConnection {
  socket: net.Socket
  /** Everything the server has written so far. */
  received(): string
  /** Resolves when the server has closed the connection (or it was reset), with all it wrote. */
  closed: Promise<string>
}

/** Opens a connection to `url`'s port from `localAddress` (127.0.0.2 stands for another client). */
export async function connect(url: string, localAddress = '127.0.0.1'): Promise<RawConnection> {
  const { hostname, port } = new URL(url)
  const socket = net.connect({ host: hostname, port: Number(port), localAddress })
  let data = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => (data += chunk))
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(data)))
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return { socket, received: () => data, closed }
}

/** Sends `text` on a new connection and resolves with what came back once the server closed it. */
export async function exchange(url: string, text: string, localAddress?: string): Promise<string> {
  const connection = await connect(url, localAddress)
  connection.socket.write(text)
  return connection.closed
}

/** An HTTP/1.1 answer split into status, headers and parsed JSON body (the first response only). */
export function parseResponse(text: string): { status: number; headers: Record<string, string>; body: any } {
  const end = text.indexOf('\r\n\r\n')
  const [statusLine, ...lines] = text.slice(0, end === -1 ? text.length : end).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  const raw = end === -1 ? '' : text.slice(end + 4, end + 4 + Number(headers['content-length'] ?? text.length))
  let body: any = raw
  try {
    body = JSON.parse(raw)
  } catch {}
  return { status: Number(statusLine.split(' ')[1]), headers, body }
}

/**
 * Writes `bytes` one character every `everyMs` (a slow client), until the server closes the connection
 * or the bytes run out; resolves with what the server wrote and whether it closed before the end.
 */
export async function trickle(connection: RawConnection, bytes: string, everyMs: number): Promise<{ text: string; closedEarly: boolean }> {
  let open = true
  void connection.closed.then(() => (open = false))
  for (const char of bytes) {
    if (!open) break
    connection.socket.write(char)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
  const closedEarly = !open
  connection.socket.destroy()
  return { text: await connection.closed, closedEarly }
}
