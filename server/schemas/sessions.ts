/** The bodies and answers of /v1/sessions (register, the directory), as TypeBox: validation, types and /docs/json from one source. */
import { Type, type Static } from 'typebox'
import { IceServer, Name } from './common.js'

const TakeOver = Type.Boolean({ description: 'Verified names: end the session that holds the name (yours, elsewhere) and take it.' })

/** Open mode: the name is the body's. */
export const CreateSessionBody = Type.Object({ name: Name, takeOver: Type.Optional(TakeOver) })
export type CreateSessionBody = Static<typeof CreateSessionBody>

/** Verified names: the name is the JWT's; a body's name must equal it. */
export const CreateVerifiedSessionBody = Type.Union([
  Type.Object({ name: Type.Optional(Name), takeOver: Type.Optional(TakeOver) }),
  Type.Null(),
])
export type CreateVerifiedSessionBody = Static<typeof CreateVerifiedSessionBody>

export const SessionCreated = Type.Object({
  name: Type.String(),
  token: Type.String({ description: 'Bearer secret; send as Authorization: Bearer <token>.' }),
  iceServers: Type.Array(IceServer),
  heartbeatMs: Type.Integer(),
  graceMs: Type.Integer(),
})
export type SessionCreated = Static<typeof SessionCreated>

/** The directory's page size: default and most. */
export const DIRECTORY_PAGE = { default: 100, max: 500 }

export const SessionListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: DIRECTORY_PAGE.max, description: `Names per page; default ${DIRECTORY_PAGE.default}, at most ${DIRECTORY_PAGE.max}.` })),
  after: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'The `next` of the previous page: names after this one.' })),
})
export type SessionListQuery = Static<typeof SessionListQuery>

export const SessionList = Type.Object({
  names: Type.Array(Type.String()),
  next: Type.Union([Type.String(), Type.Null()], { description: 'The `after` of the next page; null on the last page.' }),
})
