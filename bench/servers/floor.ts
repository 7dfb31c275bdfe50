/**
 * The floor: a bare node:http relay, the least any HTTP signalling must cost.
 *   GET  /events/<name>  → 200 chunked text/event-stream, held open (the name's one receiver)
 *   POST /send/<name>    → 204; the body (JSON text, not parsed) is written to <name>'s stream as `data: <body>\n\n`
 * No auth, no validation, no JSON parsing, no mailbox: a message for a name with no stream is 404.
 */
import http from 'node:http'

const streams = new Map<string, http.ServerResponse>()

const server = http.createServer((req, res) => {
  const url = req.url ?? '/'
  if (req.method === 'POST' && url.startsWith('/send/')) {
    const to = streams.get(url.slice(6))
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (!to) {
        res.writeHead(404).end()
        return
      }
      to.write(`data: ${Buffer.concat(chunks).toString()}\n\n`)
      res.writeHead(204).end()
    })
    return
  }
  if (req.method === 'GET' && url.startsWith('/events/')) {
    const name = url.slice(8)
    streams.get(name)?.end()
    streams.set(name, res)
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    res.write(': ready\n\n')
    res.on('close', () => {
      if (streams.get(name) === res) streams.delete(name)
    })
    return
  }
  res.writeHead(404).end()
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1')
