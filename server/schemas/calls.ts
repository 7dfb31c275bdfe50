/** The parameters and bodies of /v1/calls (place, accept, reject, relay, end), as TypeBox: validation, types and /docs/json from one source. */
import { Type, type Static } from 'typebox'
import { Candidate, EndReasonSchema, FailureCauseSchema, SdpAnswer, SdpOffer, SessionDescription } from '../../protocol/schemas.js'
import { Name } from './common.js'

export { Candidate, SdpAnswer, SdpOffer, SessionDescription }

export const CallIdParams = Type.Object({ callId: Type.String({ minLength: 1, maxLength: 128 }) })
export type CallIdParams = Static<typeof CallIdParams>

export const CreateCallBody = Type.Object({ to: Name, sdpOffer: SdpOffer })
export type CreateCallBody = Static<typeof CreateCallBody>

export const AcceptBody = Type.Object({ sdpAnswer: SdpAnswer })
export type AcceptBody = Static<typeof AcceptBody>

export const RejectBody = Type.Object({
  reason: Type.Optional(Type.String({ maxLength: 256 })),
  block: Type.Optional(Type.Boolean({ description: 'Also block the caller for the rest of this session (POST /v1/blocks).' })),
})
export type RejectBody = Static<typeof RejectBody>

/**
 * `DELETE /v1/calls/:callId`'s optional body: the call could not connect. A hang-up or a cancel needs no
 * body; `failed` is the one reason a party may give, since every other end is decided by the call's state.
 */
export const EndCallBody = Type.Object({
  reason: Type.Literal('failed', { description: 'The call could not connect: it ends as `failed` whatever its state.' }),
  cause: Type.Optional(FailureCauseSchema),
})
export type EndCallBody = Static<typeof EndCallBody>

export function candidatesBody(maxCandidates: number) {
  return Type.Union([
    Type.Object({ candidate: Candidate }),
    Type.Object({ candidates: Type.Array(Candidate, { minItems: 1, maxItems: maxCandidates }) }),
  ])
}
export type CandidatesBody = Static<ReturnType<typeof candidatesBody>>

export const SdpBody = Type.Object({ description: SessionDescription })
export type SdpBody = Static<typeof SdpBody>

export const CallCreated = Type.Object({ callId: Type.String() })

export const CallView = Type.Object({
  callId: Type.String(),
  caller: Type.String(),
  callee: Type.String(),
  state: Type.Union([Type.Literal('ringing'), Type.Literal('active'), Type.Literal('ended')]),
  createdAt: Type.String({ description: 'ISO 8601' }),
  answeredAt: Type.Optional(Type.String()),
  endedAt: Type.Optional(Type.String()),
  endReason: Type.Optional(EndReasonSchema),
  endCause: Type.Optional(FailureCauseSchema),
})
