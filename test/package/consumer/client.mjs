// Run inside a fresh project that installed the packed tarball: sigpost/client in Node (no
// EventSource there: long-poll), two clients, one call offered and received. Prints one JSON line.
import { SignalClient } from 'sigpost/client'

const server = process.argv[2]
let received
const incoming = new Promise((resolve) => (received = resolve))
const bob = new SignalClient({ server, transport: 'poll', EventSource: null, onEvent: (event) => event.event === 'incomingCall' && received(event) })
const alice = new SignalClient({ server, transport: 'poll', EventSource: null })
await bob.register('bob')
await alice.register('alice')
const offer = { type: 'offer', sdp: 'v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\n' }
const { callId } = await alice.request('POST', '/v1/calls', { to: 'bob', sdpOffer: offer })
const event = await incoming
console.log(JSON.stringify({ callId, transport: bob.transportInUse, event: event.event, data: event.data }))
await Promise.all([alice.unregister(), bob.unregister()])
alice.close()
bob.close()
