/**
 * `npm run soak [-- --minutes M --streams N --pairs P --store memory|redis|both]`: N sessions with open SSE
 * streams and P pairs in steady call traffic (call, trickle, accept, renegotiate, hang up, again) for M
 * minutes against a sigpost process per store. Prints server memory per open stream and the events lost
 * (every 2xx send must arrive: the figure must be 0). Not part of `npm test`: it runs for minutes.
 */
import http from 'node:http'
import { parseArgs } from 'node:util'
import { startRedis } from '../test/helpers/redis.js'
import { startInstance } from '../test/helpers/instances.js'

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '2' },
    streams: { type: 'string', default: '1000' },
    pairs: { type: 'string', default: '50' },
    store: { type: 'string', default: 'both' },
  },
})
const MINUTES = Number(values.minutes)
const STREAMS = Number(values.streams)
const PAIRS = Number(values.pairs)
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })

interface Res { status: number; body: any }

function send(base: string, method: string, path: string, token?: string, body?: unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body)
    const headers: Record<string, string> = {}
    if (token) headers.authorization = `Bearer ${token}`
    if (data) headers['content-type'] = 'application/json'
    const req = http.request(`${base}${path}`, { method, headers, agent }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }))
    })
    req.on('error', reject)
    req.end(data)
  })
}

/** An SSE reader over a dedicated socket, counting events by type; it resumes with Last-Event-ID if cut. */
function listen(base: string, token: string, onEvent: (event: string, data: any) => void): { close(): void } {
  let lastId = ''
  let closed = false
  let req: http.ClientRequest
  const open = () => {
    const headers: Record<string, string> = { accept: 'text/event-stream' }
    if (lastId) headers['last-event-id'] = lastId
    req = http.get(`${base}/v1/events?token=${encodeURIComponent(token)}`, { headers }, (res) => {
      let buffer = ''
      let event = ''
      let id = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        let index: number
        while ((index = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, index)
          buffer = buffer.slice(index + 1)
          if (line.startsWith('id: ')) id = line.slice(4)
          else if (line.startsWith('event: ')) event = line.slice(7)
          else if (line.startsWith('data: ') && id) {
            lastId = id
            onEvent(event, JSON.parse(line.slice(6)))
            id = ''
          }
        }
      })
      res.on('end', () => !closed && setTimeout(open, 100))
    })
    req.on('error', () => !closed && setTimeout(open, 100))
  }
  open()
  return { close: () => { closed = true; req.destroy() } }
}

async function metrics(base: string): Promise<{ rss: number; heap: number }> {
  const text: string = await new Promise((resolve, reject) => {
    http.get(`${base}/metrics`, { agent }, (res) => {
      let t = ''
      res.on('data', (c) => (t += c))
      res.on('end', () => resolve(t))
    }).on('error', reject)
  })
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)
  return { rss: value('process_resident_memory_bytes'), heap: value('nodejs_heap_size_used_bytes') }
}

async function soak(store: 'memory' | 'redis'): Promise<Record<string, string | number>> {
  const cleanups: Array<() => unknown> = []
  const t = { teardown: (fn: () => unknown) => cleanups.push(fn) }
  try {
    const env: Record<string, string> = { LOG_LEVEL: 'warn', RATE_REGISTER_PER_WINDOW: '1000000000', RATE_SEND_PER_WINDOW: '1000000000', MAX_CONNECTIONS_PER_IP: '0' }
    if (store === 'redis') {
      const redis = await startRedis()
      cleanups.push(() => redis.stop())
      env.REDIS_URL = redis.url
    }
    const instance = await startInstance(t, env)
    const base = instance.url
    const before = await metrics(base)
    const idle = []
    for (let i = 0; i < STREAMS; i++) {
      const { body } = await send(base, 'POST', '/v1/sessions', undefined, { name: `idle-${i}` })
      idle.push(listen(base, body.token, () => {}))
    }
    // Let the streams open, then measure with them idle.
    while ((await fetchText(`${base}/metrics`)).match(/sigpost_open_streams\{transport="sse"\} (\d+)/)?.[1] !== String(STREAMS)) {
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const withStreams = await metrics(base)

    let sent = 0
    let received = 0
    let calls = 0
    const deadline = Date.now() + MINUTES * 60_000
    const pairs = await Promise.all(Array.from({ length: PAIRS }, async (_, i) => {
      const a = (await send(base, 'POST', '/v1/sessions', undefined, { name: `a-${i}` })).body.token
      const b = (await send(base, 'POST', '/v1/sessions', undefined, { name: `b-${i}` })).body.token
      return { a, b, i }
    }))
    const listeners = pairs.flatMap(({ a, b }) => [a, b].map((token) => listen(base, token, (event) => {
      if (event === 'iceCandidate' || event === 'sdp') received++
    })))
    await Promise.all(pairs.map(async ({ a, b, i }) => {
      while (Date.now() < deadline) {
        const call = await send(base, 'POST', '/v1/calls', a, { to: `b-${i}`, sdpOffer: { type: 'offer', sdp: 'v=0\r\n' } })
        if (call.status !== 201) continue
        const id = call.body.callId
        const trickle = async (token: string) => {
          for (let n = 0; n < 4; n++) {
            const res = await send(base, 'POST', `/v1/calls/${id}/candidates`, token, { candidate: { candidate: `candidate:${n} 1 udp 1 127.0.0.1 9 typ host`, sdpMid: '0' } })
            if (res.status === 202) sent++
          }
        }
        await trickle(a)
        await send(base, 'POST', `/v1/calls/${id}/accept`, b, { sdpAnswer: { type: 'answer', sdp: 'v=0\r\n' } })
        await trickle(b)
        if ((await send(base, 'POST', `/v1/calls/${id}/sdp`, a, { description: { type: 'offer', sdp: 'v=0\r\n' } })).status === 202) sent++
        await send(base, 'DELETE', `/v1/calls/${id}`, a)
        calls++
      }
    }))
    // Everything sent must arrive; wait for the tail of the traffic (bounded).
    const settle = Date.now() + 10_000
    while (received < sent && Date.now() < settle) await new Promise((resolve) => setTimeout(resolve, 100))
    const after = await metrics(base)
    for (const l of [...idle, ...listeners]) l.close()
    return {
      store,
      'open streams': STREAMS + 2 * PAIRS,
      'calls completed': calls,
      'events sent (2xx)': sent,
      'events received': received,
      'events lost': sent - received,
      'RSS per idle stream (KiB)': ((withStreams.rss - before.rss) / STREAMS / 1024).toFixed(1),
      'JS heap per idle stream (KiB)': ((withStreams.heap - before.heap) / STREAMS / 1024).toFixed(1),
      'RSS after soak (MiB)': (after.rss / 1048576).toFixed(0),
    }
  } finally {
    for (const fn of cleanups.reverse()) await fn()
  }
}

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      let t = ''
      res.on('data', (c) => (t += c))
      res.on('end', () => resolve(t))
    }).on('error', reject)
  })
}

const stores = values.store === 'both' ? (['memory', 'redis'] as const) : [values.store as 'memory' | 'redis']
const rows = []
for (const store of stores) rows.push(await soak(store))
const keys = Object.keys(rows[0])
console.log(`\nsoak: ${MINUTES} min, ${STREAMS} idle streams, ${PAIRS} pairs in steady call traffic\n`)
console.log(`| ${keys.join(' | ')} |\n|${keys.map(() => '---').join('|')}|`)
for (const row of rows) console.log(`| ${keys.map((k) => row[k]).join(' | ')} |`)
const lost = rows.reduce((sum, row) => sum + Number(row['events lost']), 0)
process.exit(lost === 0 ? 0 : 1)
