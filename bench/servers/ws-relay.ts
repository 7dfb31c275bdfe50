/**
 * A minimal ws relay, what the seed was: {"type":"register","name":"..."} binds a socket to a name;
 * any other JSON message with a "to" field is forwarded, with "from" set, to the named peer's socket.
 */
import { WebSocketServer, type WebSocket } from 'ws'

const peers = new Map<string, WebSocket>()
const wss = new WebSocketServer({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 0), perMessageDeflate: false })

wss.on('connection', (ws) => {
  let name: string | undefined
  ws.on('message', (data) => {
    let msg: { type?: string; name?: string; to?: string; from?: string }
    try {
      msg = JSON.parse(data.toString())
    } catch {
      return
    }
    if (msg.type === 'register' && typeof msg.name === 'string') {
      name = msg.name
      peers.set(name, ws)
      ws.send('{"type":"registerResponse","response":"accepted"}')
      return
    }
    const to = msg.to === undefined ? undefined : peers.get(msg.to)
    if (!to || !name) return
    msg.from = name
    to.send(JSON.stringify(msg))
  })
  ws.on('close', () => {
    if (name && peers.get(name) === ws) peers.delete(name)
  })
})
