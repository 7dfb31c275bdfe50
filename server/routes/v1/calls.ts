import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ApiError } from '../../errors.js'
import { storeFor } from '../../idempotency-key.js'
import { mayCall } from '../../jwt.js'
import { BearerAuth, errors, IdempotencyHeaders } from '../../schemas/common.js'
import {
  AcceptBody, CallCreated, CallIdParams, CallView, candidatesBody, CreateCallBody, RejectBody, SdpBody,
  type CandidatesBody,
} from '../../schemas/calls.js'

/** 413 body_too_large unless `value` serialises to at most `max` bytes of JSON. */
function capSize(value: unknown, max: number, what: string): void {
  if (Buffer.byteLength(JSON.stringify(value)) > max) {
    throw new ApiError('body_too_large', `${what} is larger than ${max} bytes as JSON.`)
  }
}

const calls: FastifyPluginAsyncTypebox = async (app) => {
  const { config, store } = app
  const description = (value: unknown) => capSize(value, config.maxDescriptionBytes, 'The session description')
  // Every route here sends as the token's holder, and counts against that session's send rate.
  app.addHook('onRequest', app.requireSession)
  const send = { rateLimit: app.sendRateLimit }
  const security = BearerAuth
  const headers = IdempotencyHeaders
  const Empty = { type: 'null' } as const

  app.post('/calls', {
    config: send,
    schema: {
      summary: 'Call a name with an SDP offer (the seed\'s "call")', security, headers,
      body: CreateCallBody,
      response: { 201: CallCreated, ...errors(400, 401, 403, 404, 409, 413, 415, 429) },
    },
  }, async (request, reply) => {
    if (!mayCall(request.session.mayCall, request.body.to)) {
      throw new ApiError('forbidden', `Your credentials do not allow calling "${request.body.to}".`)
    }
    description(request.body.sdpOffer)
    const call = await storeFor(store, request).createCall(request.session.name, request.body.to, request.body.sdpOffer)
    reply.code(201)
    return { callId: call.callId }
  })

  app.post('/calls/:callId/accept', {
    config: send,
    schema: {
      summary: 'Accept a ringing call with an SDP answer (callee only)', security, headers,
      params: CallIdParams, body: AcceptBody,
      response: { 200: CallView, ...errors(400, 401, 403, 404, 409, 413, 415, 429) },
    },
  }, async (request) => {
    description(request.body.sdpAnswer)
    return storeFor(store, request).acceptCall(request.session.name, request.params.callId, request.body.sdpAnswer)
  })

  app.post('/calls/:callId/reject', {
    config: send,
    schema: {
      summary: 'Reject a ringing call (callee only)', security, headers,
      params: CallIdParams, body: Type.Union([RejectBody, Type.Null()]),
      response: { 200: CallView, ...errors(400, 401, 403, 404, 409, 413, 415, 429) },
    },
  }, async (request) => storeFor(store, request).rejectCall(request.session.name, request.params.callId, request.body?.reason ?? 'declined', request.body?.block === true))

  app.post('/calls/:callId/candidates', {
    config: send,
    schema: {
      summary: 'Trickle ICE candidates to the other party, in order ({"candidate": null} ends them)', security, headers,
      params: CallIdParams, body: candidatesBody(config.maxCandidatesPerRequest),
      response: { 202: Empty, ...errors(400, 401, 404, 409, 413, 415, 429) },
    },
  }, async (request, reply) => {
    const body = request.body as CandidatesBody
    const candidates = 'candidates' in body ? body.candidates : [body.candidate]
    for (const candidate of candidates) capSize(candidate, config.maxCandidateBytes, 'A candidate')
    await storeFor(store, request).relayCandidates(request.session.name, request.params.callId, candidates)
    reply.code(202)
  })

  app.post('/calls/:callId/sdp', {
    config: send,
    schema: {
      summary: 'Renegotiate in an active call (offer or answer)', security, headers,
      params: CallIdParams, body: SdpBody,
      response: { 202: Empty, ...errors(400, 401, 404, 409, 413, 415, 429) },
    },
  }, async (request, reply) => {
    description(request.body.description)
    await storeFor(store, request).relaySdp(request.session.name, request.params.callId, request.body.description)
    reply.code(202)
  })

  app.delete('/calls/:callId', {
    config: send,
    schema: {
      summary: 'Hang up, or cancel while ringing (a callee\'s DELETE while ringing rejects); idempotent', security, headers,
      params: CallIdParams,
      response: { 204: Empty, ...errors(401, 404, 429) },
    },
  }, async (request, reply) => {
    await storeFor(store, request).endCall(request.session.name, request.params.callId)
    reply.code(204)
  })

  app.get('/calls/:callId', {
    config: { rateLimit: app.readRateLimit },
    schema: {
      summary: 'A call you are a party of', security,
      params: CallIdParams,
      response: { 200: CallView, ...errors(401, 404, 429) },
    },
  }, async (request) => store.getCall(request.session.name, request.params.callId))
}

export default calls
