/**
 * socket.io with transports: ["polling"] only (what a WS-hostile user would otherwise pick), as a simple relay:
 * "register" (name, ack) joins the room <name>; "signal" ({to, ...}, ack) emits "signal" {..., from} to room <to>,
 * then acks the sender.
 */
import { createServer } from 'node:http'
import { Server } from 'socket.io'

const httpServer = createServer()
httpServer.keepAliveTimeout = 60_000
const io = new Server(httpServer, { transports: ['polling'], serveClient: false, cors: { origin: '*' } })

io.on('connection', (socket) => {
  let name: string | undefined
  socket.on('register', (n: string, ack?: () => void) => {
    name = n
    socket.join(n)
    ack?.()
  })
  socket.on('signal', (msg: { to: string; from?: string }, ack?: () => void) => {
    if (name) {
      msg.from = name
      io.to(msg.to).emit('signal', msg)
    }
    ack?.()
  })
})
httpServer.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1')
