// Type-checked against the installed package's declarations (tsc --noEmit in the fresh project).
import Fastify from 'fastify'
import sigpost, { type SigpostOptions } from 'sigpost/fastify'
import { SignalClient, SignalError, type Registration, type SignalEvent } from 'sigpost/client'
import { RtcCall } from 'sigpost/element'

const options: SigpostOptions = { prefix: '/signal', graceMs: 30_000, redisUrl: undefined, serveWeb: false } as SigpostOptions
const app = Fastify()
await app.register(sigpost, { prefix: '/signal', graceMs: 30_000, serveWeb: true })
void options

const client = new SignalClient({ server: 'http://127.0.0.1:8080/signal', transport: 'poll', onEvent: (event: SignalEvent) => console.log(event.id) })
const registration: Registration = await client.register('alice')
const token: string = registration.token
void token
const error: SignalError = new SignalError('busy', 'in a call')
void error

const element: RtcCall = document.createElement('rtc-call')
element.server = 'http://127.0.0.1:8080/signal'

// @ts-expect-error graceMs is a number of milliseconds
await app.register(sigpost, { graceMs: 'long' })
// @ts-expect-error transport is auto, sse or poll
new SignalClient({ server: 'x', transport: 'carrier-pigeon' })
