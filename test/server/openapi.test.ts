/**
 * /docs/json as a tool reads it: a real OpenAPI linter (Redocly CLI, its recommended rules) finds no error
 * in it, and it carries the contract of protocol/: every event a named schema whose `event` is a const,
 * the stream and the poll envelope as discriminated oneOfs, every error code in some route's error enum.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { ERROR_CODES, ERRORS, eventSchemaId, SESSION_EVENT_TYPES, STREAM_EVENT_TYPES, type EventType } from '../../protocol/index.js'
import { request } from '../helpers/client.js'
import { startServer } from '../helpers/server.js'

const run = promisify(execFile)
const redocly = fileURLToPath(new URL('../../node_modules/.bin/redocly', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'sigpost-openapi-'))
t.teardown(() => rmSync(work, { recursive: true, force: true }))

interface Operation {
  tags?: string[]
  summary?: string
  security?: Array<Record<string, string[]>>
  responses: Record<string, { content?: Record<string, { schema: any }> }>
}
type Doc = { components: { schemas: Record<string, any>; securitySchemes: Record<string, any> }; paths: Record<string, Record<string, Operation>>; security?: unknown[] }

/** The documents of the default set-up and of one with verified names, a metrics token and no ?token=. */
const docs: Record<string, Doc> = {}
t.before(async () => {
  const plain = await startServer(t)
  const locked = await startServer(t, { authJwtSecret: 'a-shared-secret-of-at-least-32-bytes!', metricsToken: 'scrape-me', tokenInUrl: 'off' })
  for (const [name, { url }] of Object.entries({ plain, locked })) {
    const res = await request(url, 'GET', '/docs/json')
    if (res.status !== 200) throw new Error(`/docs/json answered ${res.status}`)
    docs[name] = res.body
  }
})

const operations = (doc: Doc) => Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })))
const errorEnums = (op: Operation) => Object.entries(op.responses).filter(([status]) => /^[45]/.test(status))
  .map(([status, response]) => ({ status: Number(status), codes: response.content?.['application/json']?.schema?.properties?.error?.enum as string[] | undefined }))

t.test('redocly lint (recommended rules): 0 errors, offline', async (t) => {
  const files = Object.entries(docs).map(([name, doc]) => {
    const file = join(work, `${name}.json`)
    writeFileSync(file, JSON.stringify(doc))
    return file
  })
  // No telemetry, no update check: the linter must not reach the network (it does not otherwise).
  const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true' }
  for (const file of files) {
    const result = await run(redocly, ['lint', file, '--format=json'], { cwd: work, env, maxBuffer: 16 << 20 }).catch((error: { stdout: string }) => error)
    const report = JSON.parse(result.stdout) as { totals: { errors: number; warnings: number }; problems: Array<{ ruleId: string; severity: string; message: string }> }
    const errors = report.problems.filter((p) => p.severity === 'error')
    t.same(errors.map((p) => `${p.ruleId}: ${p.message}`), [], `${file.slice(work.length + 1)}: no errors`)
    t.equal(report.totals.errors, 0)
    const warnings = [...new Set(report.problems.filter((p) => p.severity === 'warn').map((p) => p.ruleId))]
    t.comment(`redocly lint ${file.slice(work.length + 1)}: ${report.totals.errors} errors, ${report.totals.warnings} warnings (${warnings.join(', ') || 'none'})`)
  }
})

t.test('every event of protocol/ is a named schema whose event is a const', async (t) => {
  for (const doc of Object.values(docs)) {
    for (const type of [...STREAM_EVENT_TYPES, ...SESSION_EVENT_TYPES]) {
      const schema = doc.components.schemas[eventSchemaId(type)]
      t.same(schema?.properties?.event, { type: 'string', const: type }, `${eventSchemaId(type)}.event is const "${type}"`)
      t.ok(schema.properties.data, 'with its data')
      t.equal(schema.required.includes('id'), (SESSION_EVENT_TYPES as readonly string[]).includes(type), 'an id exactly on session events')
    }
  }
})

t.test('the stream and the poll envelope: discriminated oneOfs of those schemas', async (t) => {
  const doc = docs.plain
  const discriminated = (schema: any, types: readonly EventType[], what: string) => {
    t.same(schema.oneOf, types.map((type) => ({ $ref: `#/components/schemas/${eventSchemaId(type)}` })), `${what}: oneOf the named events`)
    t.same(schema.discriminator, { propertyName: 'event', mapping: Object.fromEntries(types.map((type) => [type, `#/components/schemas/${eventSchemaId(type)}`])) }, `${what}: discriminated on event`)
  }
  const stream = doc.paths['/v1/events'].get.responses['200'].content!
  t.same(Object.keys(stream), ['text/event-stream'], 'GET /v1/events answers text/event-stream')
  discriminated(stream['text/event-stream'].schema, [...STREAM_EVENT_TYPES, ...SESSION_EVENT_TYPES], 'the stream')
  const poll = doc.paths['/v1/poll'].get.responses['200'].content!['application/json'].schema
  discriminated(poll.properties.events.items, SESSION_EVENT_TYPES, 'the poll envelope')
})

t.test('each route lists its error codes as an enum, each under its own status; every code of protocol/ is listed', async (t) => {
  const listed = new Set<string>()
  for (const doc of Object.values(docs)) {
    for (const { path, method, op } of operations(doc)) {
      for (const { status, codes } of errorEnums(op)) {
        t.ok(codes && codes.length > 0, `${method} ${path} ${status}: error is an enum`)
        for (const code of codes ?? []) {
          listed.add(code)
          t.equal(ERRORS[code as keyof typeof ERRORS]?.status, status, `${method} ${path}: ${code} under ${status}`)
        }
      }
    }
    t.same(doc.components.schemas.Error.properties.error.enum, ERROR_CODES, 'the Error schema names every code')
  }
  // not_found answers a method and path that is no route: the Error schema lists it, no route can.
  t.same(ERROR_CODES.filter((code) => !listed.has(code)), ['not_found'], 'every code a route can answer is in a route\'s enum')
  const post = (path: string) => errorEnums(docs.plain.paths[path].post).flatMap((e) => e.codes ?? [])
  t.ok(['name_taken', 'invalid_name', 'rate_limited', 'body_too_large'].every((code) => post('/v1/sessions').includes(code)), 'POST /v1/sessions: its own codes')
  t.ok(['peer_not_found', 'busy', 'mailbox_full', 'rate_limited', 'unauthorized'].every((code) => post('/v1/calls').includes(code)), 'POST /v1/calls: its own codes')
  t.ok(post('/v1/calls/{callId}/candidates').includes('candidate_limit'), 'candidates: candidate_limit')
  t.notOk(post('/v1/calls').includes('candidate_limit'), 'and only there')
  const verified = errorEnums(docs.locked.paths['/v1/sessions'].post).flatMap((e) => e.codes ?? [])
  t.ok(['invalid_credentials', 'name_not_allowed', 'auth_unavailable'].every((code) => verified.includes(code)), 'verified names: the JWT\'s codes')
  t.notOk(post('/v1/sessions').includes('invalid_credentials'), 'which open mode does not answer')
})

t.test('security: bearer on every authenticated route; the stream endpoints also by ticket or ?token= as configured', async (t) => {
  for (const [name, doc] of Object.entries(docs)) {
    t.same(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer', description: String(doc.components.securitySchemes.bearer.description) })
    for (const { path, method, op } of operations(doc)) {
      const schemes = (op.security ?? doc.security ?? []).flatMap((requirement: any) => Object.keys(requirement))
      const open = path === '/healthz' || path === '/readyz' || (path === '/metrics' && name === 'plain') || (path === '/v1/sessions' && method === 'post' && name === 'plain')
      if (open) t.same(schemes, [], `${method} ${path}: no credentials`)
      else t.ok(schemes.includes(path === '/metrics' ? 'metricsToken' : 'bearer'), `${method} ${path}: ${schemes.join(' or ')}`)
      t.equal(errorEnums(op).some((e) => e.codes?.includes('unauthorized')), !open && !(path === '/v1/sessions' && method === 'post'), `${method} ${path}: 401 unauthorized iff a token is checked`)
    }
  }
  const schemes = (doc: Doc, path: string) => doc.paths[path].get.security!.map((requirement) => Object.keys(requirement)[0])
  t.same(schemes(docs.plain, '/v1/events'), ['bearer', 'ticket', 'queryToken'], 'the stream: header, ticket or ?token=')
  t.same(schemes(docs.plain, '/v1/poll'), ['bearer', 'queryToken'], 'long-poll: header or ?token=')
  t.same(schemes(docs.locked, '/v1/events'), ['bearer', 'ticket'], 'TOKEN_IN_URL=false: no ?token=')
  t.same(docs.plain.components.securitySchemes.ticket, { type: 'apiKey', in: 'query', name: 'ticket', description: String(docs.plain.components.securitySchemes.ticket.description) })
})

t.test('tags by resource, plain summaries', async (t) => {
  const tags = new Set<string>()
  for (const { path, method, op } of operations(docs.plain)) {
    t.equal(op.tags?.length, 1, `${method} ${path}: one tag`)
    tags.add(op.tags?.[0] ?? '')
    t.ok(op.summary && !/seed/i.test(op.summary), `${method} ${path}: "${op.summary}"`)
  }
  t.same([...tags].sort(), ['blocks', 'calls', 'events', 'ice-servers', 'operations', 'sessions'])
})
