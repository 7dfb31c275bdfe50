/** /v1/calls: place, accept, reject, relay candidates and descriptions, read and end one-to-one calls; thin handlers over the store. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ApiError, type ErrorCode } from '../../errors.js'
import { storeFor } from '../../idempotency-key.js'
import { mayCall } from '../../auth/jwt.js'
import { AUTHENTICATED, BearerAuth, errors, IdempotencyHeaders, Tags, WITH_BODY, WITH_PARAMS } from '../../schemas/common.js'
import {
  AcceptBody, CallCreated, CallIdParams, CallView, candidatesBody, CreateCallBody, EndCallBody, RejectBody, SdpBody,
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
  const tags = Tags.calls
  const headers = IdempotencyHeaders
  /** What every send here can answer: a bad body, no session, its send rate; and a call's own. */
  const sendErrors: ErrorCode[] = [...AUTHENTICATED, ...WITH_BODY, 'rate_limited']
  const onCall: ErrorCode[] = [...sendErrors, ...WITH_PARAMS, 'call_not_found']
  const Empty = { type: 'null' } as const

  app.post('/calls', {
    config: send,
    schema: {
      summary: 'Call a name with an SDP offer', operationId: 'createCall', security, tags, headers,
      description: 'The callee receives `incomingCall`. `rate_limited` also while a redial cool-down for this callee runs.',
      body: CreateCallBody,
      response: { 201: CallCreated, ...errors(sendErrors, 'invalid_name', 'forbidden', 'peer_not_found', 'busy', 'mailbox_full') },
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
      summary: 'Accept a ringing call with an SDP answer (callee only)', operationId: 'acceptCall', security, tags, headers,
      description: 'The caller receives `callResponse` (accepted), the callee `startCommunication`.',
      params: CallIdParams, body: AcceptBody,
      response: { 200: CallView, ...errors(onCall, 'forbidden', 'invalid_state', 'mailbox_full') },
    },
  }, async (request) => {
    description(request.body.sdpAnswer)
    return storeFor(store, request).acceptCall(request.session.name, request.params.callId, request.body.sdpAnswer)
  })

  app.post('/calls/:callId/reject', {
    config: send,
    schema: {
      summary: 'Reject a ringing call (callee only)', operationId: 'rejectCall', security, tags, headers,
      description: 'The caller receives `callResponse` (rejected). `block: true` also blocks the caller (`block_limit` when this session blocks as many names as it may).',
      params: CallIdParams, body: Type.Union([RejectBody, Type.Null()]),
      response: { 200: CallView, ...errors(onCall, 'forbidden', 'invalid_state', 'block_limit') },
    },
  }, async (request) => storeFor(store, request).rejectCall(request.session.name, request.params.callId, request.body?.reason ?? 'declined', request.body?.block === true))

  app.post('/calls/:callId/candidates', {
    config: send,
    schema: {
      summary: 'Trickle ICE candidates to the other party, in order ({"candidate": null} ends them)', operationId: 'sendCandidates', security, tags, headers,
      description: 'The other party receives one `iceCandidate` per candidate.',
      params: CallIdParams, body: candidatesBody(config.maxCandidatesPerRequest),
      response: { 202: Empty, ...errors(onCall, 'invalid_state', 'candidate_limit', 'mailbox_full') },
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
      summary: 'Renegotiate in an active call (offer or answer)', operationId: 'renegotiate', security, tags, headers,
      description: 'The other party receives `sdp`.',
      params: CallIdParams, body: SdpBody,
      response: { 202: Empty, ...errors(onCall, 'invalid_state', 'mailbox_full') },
    },
  }, async (request, reply) => {
    description(request.body.description)
    await storeFor(store, request).relaySdp(request.session.name, request.params.callId, request.body.description)
    reply.code(202)
  })

  app.delete('/calls/:callId', {
    config: send,
    schema: {
      summary: 'Hang up, or cancel while ringing (a callee\'s DELETE while ringing rejects); idempotent', operationId: 'endCall', security, tags, headers,
      description: 'The other party receives `stopCommunication` (or, for a callee\'s DELETE while ringing, `callResponse` rejected); an ended call: 204 and no event. '
        + 'With the body `{"reason": "failed", "cause": "..."}` (the call could not connect) the call ends as `failed` in any state and the other party receives `stopCommunication {reason: "failed", cause}`; '
        + 'the first end wins: a later DELETE, with or without a body, changes nothing.',
      params: CallIdParams, body: Type.Union([EndCallBody, Type.Null()]),
      response: { 204: Empty, ...errors(onCall) },
    },
  }, async (request, reply) => {
    await storeFor(store, request).endCall(request.session.name, request.params.callId, request.body ?? undefined)
    reply.code(204)
  })

  app.get('/calls/:callId', {
    config: { rateLimit: app.readRateLimit },
    schema: {
      summary: 'A call you are a party of', operationId: 'getCall', security, tags,
      params: CallIdParams,
      response: { 200: CallView, ...errors(AUTHENTICATED, WITH_PARAMS, 'rate_limited', 'call_not_found') },
    },
  }, async (request) => store.getCall(request.session.name, request.params.callId))
}

export default calls
