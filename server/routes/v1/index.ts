/** The API's routes under /v1, with the API's own header policy (edge/headers.ts): nosniff on answers with a body, not helmet's set. */
import type { FastifyPluginAsync } from 'fastify'
import { addApiHeaders } from '../../edge/headers.js'
import blocks from './blocks.js'
import calls from './calls.js'
import events from './events.js'
import iceServers from './ice-servers.js'
import sessions from './sessions.js'
import streamTickets from './stream-tickets.js'

const v1: FastifyPluginAsync = async (api) => {
  addApiHeaders(api)
  await api.register(sessions)
  await api.register(events)
  await api.register(calls)
  await api.register(iceServers)
  await api.register(streamTickets)
  await api.register(blocks)
}

export default v1
