/** /v1/blocks: the names whose calls this session refuses. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AUTHENTICATED, BearerAuth, errors, Tags, WITH_BODY, WITH_PARAMS } from '../../schemas/common.js'
import { BlockBody, BlockList, BlockParams } from '../../schemas/tickets.js'

/**
 * Blocking (docs/http-api.md "Blocking and call spam"): for the rest of this session, calls from a blocked name are
 * answered `404 peer_not_found`, exactly as if this session were not there.
 */
const blocks: FastifyPluginAsyncTypebox = async (app) => {
  const { store } = app
  app.addHook('onRequest', app.requireSession)
  const security = BearerAuth
  const tags = Tags.blocks
  const Empty = { type: 'null' } as const

  app.post('/blocks', {
    config: { rateLimit: app.sendRateLimit },
    schema: { summary: 'Block a name for the rest of this session', operationId: 'block', security, tags, body: BlockBody, response: { 204: Empty, ...errors(AUTHENTICATED, WITH_BODY, 'rate_limited', 'invalid_name', 'block_limit') } },
  }, async (request, reply) => {
    await store.block(request.session.name, request.body.name)
    reply.code(204)
  })

  app.delete('/blocks/:name', {
    config: { rateLimit: app.sendRateLimit },
    schema: { summary: 'Lift a block (idempotent)', operationId: 'unblock', security, tags, params: BlockParams, response: { 204: Empty, ...errors(AUTHENTICATED, WITH_BODY, WITH_PARAMS, 'rate_limited', 'invalid_name') } },
  }, async (request, reply) => {
    await store.unblock(request.session.name, request.params.name)
    reply.code(204)
  })

  app.get('/blocks', {
    config: { rateLimit: app.sendRateLimit },
    schema: { summary: 'The names this session blocks', operationId: 'listBlocks', security, tags, response: { 200: BlockList, ...errors(AUTHENTICATED, 'rate_limited') } },
  }, async (request) => ({ names: await store.listBlocks(request.session.name) }))
}

export default blocks
