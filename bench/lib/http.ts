/** Lean HTTP client pieces for the load generator: keep-alive requests and an incremental SSE parser. */
import http from 'node:http'

export interface HttpResult {
  status: number
  body: string
}

export class HttpClient {
  /** Short requests (POSTs, polls) share keep-alive sockets. */
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024, scheduling: 'lifo' })

  constructor(
    readonly host: string,
    readonly port: number,
  ) {}

  request(method: string, path: string, body?: string, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const h: Record<string, string | number> = { ...headers }
      if (body !== undefined) {
        h['content-type'] = 'application/json'
        h['content-length'] = Buffer.byteLength(body)
      }
      const req = http.request({ host: this.host, port: this.port, method, path, headers: h, agent: this.agent }, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (text += c))
        res.on('end', () => {
          clearTimeout(timer)
          resolve({ status: res.statusCode ?? 0, body: text })
        })
        res.on('error', reject)
      })
      const timer = setTimeout(() => req.destroy(new Error(`${method} ${path} timed out`)), timeoutMs)
      timer.unref()
      req.on('error', (e) => {
        clearTimeout(timer)
        reject(e)
      })
      req.end(body)
    })
  }

  close(): void {
    this.agent.destroy()
  }
}

export interface SseEvent {
  id?: string
  event: string
  data: string
}

/**
 * Incremental text/event-stream parser: feed() chunks as they come; onEvent gets each dispatched event,
 * onComment each comment line. Handles events split across chunks; \n line ends (what the targets send).
 */
export class SseParser {
  private buffer = ''
  private id?: string
  private event?: string
  private data: string[] = []

  constructor(
    private readonly onEvent: (e: SseEvent) => void,
    private readonly onComment: (text: string) => void = () => {},
  ) {}

  feed(chunk: string): void {
    let buf = this.buffer + chunk
    let start = 0
    for (;;) {
      const nl = buf.indexOf('\n', start)
      if (nl < 0) break
      let line = buf.slice(start, nl)
      start = nl + 1
      if (line.endsWith('\r')) line = line.slice(0, -1)
      this.line(line)
    }
    this.buffer = start === 0 ? buf : buf.slice(start)
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0 || this.event !== undefined) {
        const e: SseEvent = { event: this.event ?? 'message', data: this.data.join('\n') }
        if (this.id !== undefined) e.id = this.id
        this.event = undefined
        this.id = undefined
        this.data = []
        this.onEvent(e)
      }
      return
    }
    if (line.charCodeAt(0) === 58 /* : */) {
      this.onComment(line.slice(1))
      return
    }
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.charCodeAt(0) === 32) value = value.slice(1)
    if (field === 'data') this.data.push(value)
    else if (field === 'event') this.event = value
    else if (field === 'id') this.id = value
  }
}

/**
 * Opens a streaming GET on its own socket (agent: false, as a browser's EventSource has its own
 * connection) and feeds the body to an SseParser. Resolves with the request once headers are in.
 */
export function openStream(
  host: string,
  port: number,
  path: string,
  headers: Record<string, string>,
  parser: SseParser,
  onClose: () => void,
  timeoutMs = 20_000,
): Promise<http.ClientRequest> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, headers: { accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
      clearTimeout(timer)
      if (res.statusCode !== 200) {
        res.resume()
        reject(new Error(`GET ${path.replace(/token=[^&]+/, 'token=…')}: ${res.statusCode}`))
        return
      }
      res.setEncoding('utf8')
      res.on('data', (c: string) => parser.feed(c))
      res.on('close', onClose)
      resolve(req)
    })
    const timer = setTimeout(() => req.destroy(new Error(`GET ${path} timed out`)), timeoutMs)
    timer.unref()
    req.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
      onClose()
    })
  })
}
