/**
 * The README and docs/ cannot drift: the curl walkthrough (docs/http-api.md) and the README's taste run
 * against a real server, the configuration table (docs/operations.md) is the one server/config.ts makes, the error
 * codes and events (docs/http-api.md) match protocol/, the message ids (docs/element.md) match strings.ts,
 * and every relative link resolves, to a file of the repository and a heading of it.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { configTable, DOCS_TABLE } from '../scripts/config-table.js'
import { ERRORS, statusOf, type ErrorCode } from '../protocol/errors.js'
import { SESSION_EVENT_TYPES, STREAM_EVENT_TYPES } from '../protocol/names.js'
import { en } from '../web/rtc-call/strings.js'
import { buildApp } from '../server/app.js'
import { startServer } from './helpers/server.js'

const repo = fileURLToPath(new URL('..', import.meta.url))
const read = (path: string): string => readFileSync(join(repo, path), 'utf8')
const readme = read('README.md')
const documents = ['README.md', ...readdirSync(join(repo, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]

/** Each line of a markdown text, with whether it is inside a fenced code block (where `#` is no heading). */
function lines(text: string): Array<{ line: string; code: boolean }> {
  let fenced = false
  return text.split('\n').map((line) => {
    const fence = line.startsWith('```')
    if (fence) fenced = !fenced
    return { line, code: fenced || fence }
  })
}

const headingDepth = (line: string): number => /^(#{1,6}) /.exec(line)?.[1].length ?? 0

/** The section of a document from its heading (the line starting with `heading`) to the next one as deep. */
function section(text: string, heading: string): string {
  const all = lines(text)
  const start = all.findIndex(({ line, code }) => !code && line.startsWith(heading))
  if (start < 0) throw new Error(`no section "${heading}"`)
  const depth = headingDepth(heading)
  const end = all.findIndex(({ line, code }, i) => i > start && !code && headingDepth(line) > 0 && headingDepth(line) <= depth)
  return all.slice(start, end < 0 ? undefined : end).map(({ line }) => line).join('\n')
}

/** The rows of the markdown tables in `text` whose first cell is one code span: that code → the second cell. */
function tableRows(text: string, pattern = '[A-Za-z_]+'): Map<string, string> {
  const row = new RegExp(`^\\| \`(${pattern})\` \\| ([^|]*) \\|`, 'gm')
  return new Map([...text.matchAll(row)].map((m) => [m[1], m[2].trim()]))
}

/** GitHub's anchors of a document's headings (lower case, punctuation dropped, spaces to hyphens, -1 for repeats). */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  for (const { line, code } of lines(text)) {
    if (code || !headingDepth(line)) continue
    const base = line.replace(/^#+ /, '').trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replaceAll(' ', '-')
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    out.add(count ? `${base}-${count}` : base)
  }
  return out
}

/** Every markdown link `[text](target)` outside code (fenced blocks and inline code spans). */
function links(text: string): string[] {
  const prose = lines(text).filter(({ code }) => !code).map(({ line }) => line.replace(/`[^`]*`/g, '')).join('\n')
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1])
}

/** A persistent bash, like a terminal: blocks run in it one after another, keeping variables and jobs. */
class Terminal {
  output = ''
  private readonly shell: ChildProcessWithoutNullStreams
  private listeners: Array<() => void> = []
  private blocks = 0

  constructor(cwd: string) {
    this.shell = spawn('bash', ['--norc', '--noprofile'], { cwd, stdio: 'pipe' })
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString()
      for (const listener of this.listeners) listener()
    }
    this.shell.stdout.on('data', collect)
    this.shell.stderr.on('data', collect)
  }

  /** Runs a block and resolves when its last command has finished. */
  async run(block: string): Promise<string> {
    const marker = `__block_${++this.blocks}_done__`
    const start = this.output.length
    this.shell.stdin.write(`${block}\necho ${marker}\n`)
    await this.until(marker)
    return this.output.slice(start, this.output.indexOf(marker, start))
  }

  /** Resolves once the output contains `text` (a background job's output arrives when it arrives). */
  until(text: string): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (!this.output.includes(text)) return
        this.listeners = this.listeners.filter((l) => l !== check)
        resolve()
      }
      this.listeners.push(check)
      check()
    })
  }

  close(): void {
    this.shell.stdin.end('kill $(jobs -p) 2>/dev/null; exit\n')
  }
}

t.test('the curl walkthrough of docs/http-api.md runs as written', async (t) => {
  // No heartbeat during the walkthrough: alice's stream prints into the terminal whose later steps must
  // print nothing, and on a loaded machine the six steps can outlast the default 15 s.
  const { url } = await startServer(t, { heartbeatMs: 600_000 })
  const walkthrough = section(read('docs/http-api.md'), '## curl walkthrough')
  const blocks = [...walkthrough.matchAll(/```bash terminal=(\d)\n([\s\S]*?)```/g)].map((m) => ({
    terminal: Number(m[1]),
    code: m[2].replaceAll('http://localhost:8080', url),
  }))
  t.equal(blocks.length, 6, 'six steps')
  const dir = mkdtempSync(join(tmpdir(), 'sigpost-readme-'))
  const terminals = new Map([[1, new Terminal(dir)], [2, new Terminal(dir)]])
  t.teardown(() => {
    for (const terminal of terminals.values()) terminal.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const out: string[] = []
  for (const block of blocks) out.push(await terminals.get(block.terminal)!.run(block.code))
  const [aliceRegisters, bobRegisters, aliceCalls, bobAnswers, aliceHangsUp, bobLeaves] = out
  const alice = terminals.get(1)!

  t.equal(aliceRegisters.trim(), '', 'registering prints nothing but the stream')
  t.match(bobRegisters, '{"names":["alice","bob"],"next":null}')
  t.equal(aliceCalls.trim(), '', 'the candidate POST answers 202 with no body')
  t.match(bobAnswers, '["1","incomingCall"]')
  t.match(bobAnswers, '["2","iceCandidate"]')
  t.match(bobAnswers, '"state":"active"', 'accept answers with the call')
  t.match(bobAnswers, '"event":"startCommunication"')
  await alice.until('candidate:2 1 udp')
  t.match(alice.output, 'event: ready\ndata: {"name":"alice"}')
  t.match(alice.output, /id: \d+\nevent: callResponse\ndata: \{"callId":"[^"]+","response":"accepted"/)
  t.match(alice.output, /event: iceCandidate\ndata: \{"callId":"[^"]+","candidate":null\}/, 'end-of-candidates relayed')
  t.match(aliceHangsUp, /^204$/m)
  t.match(aliceHangsUp, '"state":"ended"')
  t.match(aliceHangsUp, '"endReason":"hangup"')
  t.match(bobLeaves, /"event":"stopCommunication","data":\{"callId":"[^"]+","reason":"hangup"\}/)
  t.match(bobLeaves, /^204$/m)
})

t.test('the configuration table of docs/operations.md is the one server/config.ts makes', async (t) => {
  const table = section(read('docs/operations.md'), '## Configuration')
  t.equal(DOCS_TABLE.exec(table)?.[0].trimEnd(), configTable(), 'the same table (npx tsx scripts/config-table.ts --write makes it)')
})

t.test("the README's taste of the API runs as written", async (t) => {
  const { url } = await startServer(t)
  const [, block] = /```bash taste\n([\s\S]*?)```/.exec(readme) ?? []
  t.ok(block, 'the README has it')
  t.ok(block.trim().split('\n').filter((line) => !line.endsWith('\\')).length <= 5, 'five commands at most')
  const dir = mkdtempSync(join(tmpdir(), 'sigpost-readme-'))
  const terminal = new Terminal(dir)
  t.teardown(() => {
    terminal.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const out = await terminal.run(block.replaceAll('http://localhost:8080', url))
  const [created, polled] = out.trim().split('\n').map((line) => JSON.parse(line))
  t.match(created, { callId: String }, 'the call is placed')
  t.match(polled.events, [{ id: '1', event: 'incomingCall', data: { callId: created.callId, from: 'alice' } }], 'bob polls it')
  // The curl walkthrough that a reader runs next registers alice and bob again.
  for (const name of ['alice', 'bob']) {
    const again = await fetch(`${url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) })
    t.equal(again.status, 201, `${name} is free again after the taste`)
  }
})

t.test("the error codes of docs/http-api.md are protocol/'s, each with its status", async (t) => {
  const rows = tableRows(section(read('docs/http-api.md'), '## Error codes'), '[a-z_]+')
  t.same([...rows.keys()].sort(), Object.keys(ERRORS).sort(), 'every code, and no other')
  for (const code of Object.keys(ERRORS) as ErrorCode[]) t.equal(rows.get(code), String(statusOf(code)), code)
  // The endpoint table names codes with their statuses too ("404 peer_not_found").
  const endpoints = section(read('docs/http-api.md'), '## Endpoints')
  for (const [, status, code] of endpoints.matchAll(/`(\d{3}) ([a-z_]+)`/g)) {
    t.equal(code in ERRORS ? String(statusOf(code as ErrorCode)) : 'no such code', status, `${status} ${code} in the endpoint table`)
  }
})

t.test("each endpoint's codes in docs/http-api.md are the ones /docs/json lists for it", async (t) => {
  // Open mode and verified names with a metrics token: together, every code a route can answer.
  const routes = new Map<string, Set<string>>()
  /** Routes that take a body: their body codes belong in their row, not in the sentence above the table. */
  const takesBody = new Set<string>()
  for (const options of [{}, { authJwtSecret: 'a-secret-of-the-test-long-enough-for-hs256', metricsToken: 'metrics' }]) {
    const app = await buildApp({ ...options, logger: false })
    t.teardown(() => app.close())
    const doc = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, { requestBody?: unknown; responses?: Record<string, unknown> }>>; components?: { schemas?: Record<string, unknown> } }
    const codes = (schema: any): string[] => schema?.$ref ? codes(doc.components?.schemas?.[schema.$ref.split('/').pop()])
      : schema?.properties?.error?.enum ?? (schema?.oneOf ?? schema?.anyOf ?? []).flatMap(codes)
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        if (method === 'head' || path.startsWith('/docs')) continue
        const key = `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`
        const set = routes.get(key) ?? new Set<string>()
        if (operation.requestBody) takesBody.add(key)
        for (const [status, response] of Object.entries(operation.responses ?? {})) {
          if (Number(status) >= 400) for (const code of codes((response as any).content?.['application/json']?.schema)) set.add(`${status} ${code}`)
        }
        routes.set(key, set)
      }
    }
  }
  // What the table leaves to one sentence above it: the edge's codes, 500, Redis' 503, and a body's codes
  // on routes that take none (a body sent anyway is still parsed). A route that takes a body lists them.
  const aside = new Set(['bad_request', 'request_timeout', 'url_too_long', 'headers_too_large', 'internal_error', 'store_unavailable'])
  const bodyCodes = new Set(['invalid_body', 'body_too_large', 'unsupported_media_type'])
  const table = section(read('docs/http-api.md'), '## Endpoints').split('\n')
  for (const [route, listed] of routes) {
    const row = table.find((line) => line.startsWith(`| \`${route}`))
    t.ok(row, `${route} has a row`)
    const documented = new Set([...(row ?? '').matchAll(/`(\d{3}) ([a-z_]+)`/g)].map((m) => `${m[1]} ${m[2]}`))
    const keep = (codes: Iterable<string>) => [...codes].filter((code) => {
      const name = code.split(' ')[1]
      return !aside.has(name) && (takesBody.has(route) || !bodyCodes.has(name))
    }).sort()
    t.same(keep(documented), keep(listed), `${route}: the codes the docs name are the ones it answers`)
  }
})

t.test("the events of docs/http-api.md are protocol/'s", async (t) => {
  const rows = tableRows(section(read('docs/http-api.md'), '## Events'), '[a-zA-Z]+')
  t.same([...rows.keys()].sort(), [...SESSION_EVENT_TYPES, ...STREAM_EVENT_TYPES].sort(), 'every event, and no other')
  for (const event of STREAM_EVENT_TYPES) t.equal(rows.get(event), 'no', `${event} has no id`)
  for (const event of SESSION_EVENT_TYPES) t.equal(rows.get(event), 'yes', `${event} has an id`)
})

t.test('the message ids of docs/element.md are the element\'s', async (t) => {
  const rows = tableRows(section(read('docs/element.md'), '## Text and languages'), '[A-Za-z_]+')
  t.same([...rows.keys()], Object.keys(en), 'every id, in order, and no other')
  for (const [id, text] of Object.entries(en)) t.equal(rows.get(id), text.replaceAll('|', '\\|'), id)
})

t.test('every relative link of the README and docs/ resolves inside the repository', async (t) => {
  const broken: string[] = []
  let checked = 0
  for (const document of documents) {
    for (const target of links(read(document))) {
      if (/^[a-z]+:/.test(target)) {
        if (document === 'README.md') broken.push(`README.md: ${target} is outside the repository`)
        continue
      }
      checked++
      const [path, anchor] = target.split('#')
      const file = path ? resolve(dirname(join(repo, document)), path) : join(repo, document)
      if (relative(repo, file).startsWith('..') || !existsSync(file)) broken.push(`${document}: ${target} is no file of the repository`)
      else if (anchor !== undefined && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(anchor)) {
        broken.push(`${document}: ${target} names no heading`)
      }
    }
  }
  t.same(broken, [], `${checked} relative links, none broken`)
  t.ok(links(readme).filter((l) => l.startsWith('docs/')).length >= 4, 'the README links the docs')
})
