import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { BearerAuth, errors } from '../../schemas/common.js'
import { BlockBody, BlockList, BlockParams } from '../../schemas/tickets.js'

/**
 * Blocking (API.md "Blocking and call spam"): for the rest of this session, calls from a blocked name are
 * answered `404 peer_not_found`, exactly as if this session were not there.
 */
const blocks: FastifyPluginAsyncTypebox = async (app) => {
  const { store } = app
  app.addHook('onRequest', app.requireSession)
  const security = BearerAuth
  const Empty = { type: 'null' } as const

  app.post('/blocks', {
    config: { rateLimit: app.sendRateLimit },
    schema: { summary: 'Block a name for the rest of this session', security, body: BlockBody, response: { 204: Empty, ...errors(400, 401, 413, 415, 429) } },
  }, async (request, reply) => {
    await store.block(request.session.name, request.body.name)
    reply.code(204)
  })

  app.delete('/blocks/:name', {
    config: { rateLimit: app.sendRateLimit },
    schema: { summary: 'Lift a block (idempotent)', security, params: BlockParams, response: { 204: Empty, ...errors(400, 401, 429) } },
  }, async (request, reply) => {
    await store.unblock(request.session.name, request.params.name)
    reply.code(204)
  })

  app.get('/blocks', {
    config: { rateLimit: app.sendRateLimit },
    schema: { summary: 'The names this session blocks', security, response: { 200: BlockList, ...errors(401, 429) } },
  }, async (request) => ({ names: await store.listBlocks(request.session.name) }))
}

export default blocks
