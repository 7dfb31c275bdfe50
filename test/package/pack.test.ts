/**
 * The npm package as a user gets it: `npm pack` (which builds it on prepack), the tarball installed into
 * a fresh project, and there sigpost/client in Node, sigpost/fastify mounted under /signal in an
 * application of its own, and a consumer's .ts file type-checked against the package's declarations.
 * The fresh project links the repository's installed dependencies first, so `npm install --offline`
 * needs no registry (only the tarball itself is installed).
 */
import { execFile, spawn } from 'node:child_process'
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { startServer } from '../helpers/server.js'

const run = promisify(execFile)
const repo = fileURLToPath(new URL('../..', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'sigpost-pack-'))
process.once('exit', () => rmSync(work, { recursive: true, force: true }))
t.teardown(() => rmSync(work, { recursive: true, force: true }))
const project = join(work, 'app')

/** Links every package the repository has installed (not sigpost itself) into the fresh project. */
function linkDependencies(target: string): void {
  const from = join(repo, 'node_modules')
  for (const entry of readdirSync(from)) {
    if (entry === '.bin' || entry === 'sigpost' || entry.startsWith('.')) continue
    if (entry.startsWith('@')) {
      mkdirSync(join(target, entry), { recursive: true })
      for (const scoped of readdirSync(join(from, entry))) {
        if (!existsSync(join(target, entry, scoped))) symlinkSync(join(from, entry, scoped), join(target, entry, scoped))
      }
    } else if (!existsSync(join(target, entry))) {
      symlinkSync(join(from, entry), join(target, entry))
    }
  }
}

let tarball = ''
let packed: { size: number; unpackedSize: number; files: { path: string }[] }
t.before(async () => {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: repo, maxBuffer: 16 << 20 })
  packed = JSON.parse(stdout.slice(stdout.indexOf('[')))[0]
  tarball = join(work, (packed as unknown as { filename: string }).filename)
  mkdirSync(join(project, 'node_modules'), { recursive: true })
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  linkDependencies(join(project, 'node_modules'))
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-save', tarball], { cwd: project })
  // npm prunes the links no package needs; the type-check needs TypeScript's view of Node and the DOM.
  linkDependencies(join(project, 'node_modules'))
  cpSync(join(repo, 'test/fixtures/package-consumer'), project, { recursive: true })
})

t.test('npm pack --dry-run: the files and entry points the package promises, nothing else', async (t) => {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repo, maxBuffer: 16 << 20 })
  const files = (JSON.parse(stdout.slice(stdout.indexOf('[')))[0].files as { path: string }[]).map((f) => f.path)
  const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as {
    exports: Record<string, string | { types: string; default: string }>
    bin: Record<string, string>
  }
  for (const [entry, target] of Object.entries(pkg.exports)) {
    for (const path of typeof target === 'string' ? [target] : [target.types, target.default]) {
      t.ok(files.includes(path.replace(/^\.\//, '')), `${entry}: ${path} is packed`)
    }
  }
  t.ok(files.includes(pkg.bin.sigpost), 'the bin is packed')
  t.ok(files.includes('web/dist/rtc-call.js') && files.includes('web/dist/index.html'), 'the demo page and its bundle')
  t.same(files.filter((f) => /^(server|web|test|scripts|bench)\/.*\.ts$/.test(f) || f.startsWith('node_modules/')), [], 'no sources, tests or dependencies')
  t.same(files.filter((f) => !/^(bin|dist|web\/dist)\//.test(f) && !['package.json', 'README.md'].includes(f)), [], 'only the built files')
  t.comment(`packed ${(packed.size / 1024).toFixed(0)} KiB, unpacked ${(packed.unpackedSize / 1024).toFixed(0)} KiB, ${packed.files.length} files`)
})

t.test('sigpost/client in Node completes a long-poll exchange against a server', async (t) => {
  const { url } = await startServer(t)
  const { stdout } = await run(process.execPath, ['client.mjs', url], { cwd: project })
  const result = JSON.parse(stdout)
  t.equal(result.transport, 'poll')
  t.equal(result.event, 'incomingCall')
  t.match(result.data, { callId: result.callId, from: 'alice', sdpOffer: { type: 'offer' } })
})

t.test('sigpost/fastify under /signal in an application of its own: a whole call over the prefix', async (t) => {
  const child = spawn(process.execPath, ['mount.mjs'], { cwd: project, stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => void child.kill('SIGKILL'))
  const [line] = await Promise.race([
    createInterface({ input: child.stdout })[Symbol.asyncIterator]().next().then((next) => [String(next.value)]),
    new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`mount.mjs exited (${code})`)))),
  ])
  const base = `${line}/signal`
  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    const response = await fetch(base + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
    const text = await response.text()
    return { status: response.status, body: text ? JSON.parse(text) : undefined }
  }

  t.same(await (await fetch(`${line}/`)).json(), { app: 'mine' }, "the application's own route is untouched")
  t.equal((await call('GET', '/healthz')).status, 200)
  t.equal((await fetch(`${line}/v1/sessions`, { method: 'POST' })).status, 404, 'nothing outside the prefix')
  t.match((await call('POST', '/v1/sessions', undefined, { name: 'a b' })), { status: 400, body: { error: 'invalid_name', message: String } }, "sigpost's error shape under the prefix")

  const alice = (await call('POST', '/v1/sessions', undefined, { name: 'alice' })).body.token as string
  const bob = (await call('POST', '/v1/sessions', undefined, { name: 'bob' })).body.token as string
  const offer = { type: 'offer', sdp: 'v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\n' }
  const placed = await call('POST', '/v1/calls', alice, { to: 'bob', sdpOffer: offer })
  t.equal(placed.status, 201)
  const callId = placed.body.callId as string
  const first = await call('GET', '/v1/poll?wait=5', bob)
  t.match(first.body.events.at(-1), { event: 'incomingCall', data: { callId, from: 'alice', sdpOffer: offer } }, 'bob polls the offer')
  const answer = { type: 'answer', sdp: 'v=0\r\no=bob 1 1 IN IP4 127.0.0.1\r\n' }
  t.equal((await call('POST', `/v1/calls/${callId}/accept`, bob, { sdpAnswer: answer })).status, 200)
  const accepted = await call('GET', '/v1/poll?wait=5', alice)
  t.match(accepted.body.events.at(-1), { event: 'callResponse', data: { callId, response: 'accepted', sdpAnswer: answer } }, 'alice polls the answer')
  t.equal((await call('DELETE', `/v1/calls/${callId}`, alice)).status, 204, 'alice hangs up')
  const ended = await call('GET', `/v1/poll?after=${first.body.events.at(-1).id}&wait=5`, bob)
  t.match(ended.body.events.at(-1), { event: 'stopCommunication', data: { callId, reason: 'hangup' } }, 'bob learns it ended')
  t.match(await call('GET', '/docs/json'), { status: 200, body: { openapi: /^3\./ } }, 'the OpenAPI description under the prefix')
  const docs = (await call('GET', '/docs/json')).body as { paths: Record<string, unknown> }
  t.ok(Object.keys(docs.paths).some((path) => path.startsWith('/signal/v1/')), 'with the prefixed paths')
  t.ok(Object.keys(docs.paths).every((path) => path !== '/'), "and not the application's own routes")
})

t.test("a consumer's .ts file type-checks against the package's declarations", async (t) => {
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM', 'DOM.Iterable'],
      strict: true, noEmit: true, skipLibCheck: true, types: ['node'],
    },
    files: ['consumer.ts'],
  }))
  t.ok(lstatSync(join(project, 'node_modules/sigpost')).isDirectory(), 'sigpost is installed, not linked')
  const result = await run(join(repo, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: project }).then(
    () => ({ code: 0, stdout: '' }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  )
  t.equal(result.stdout, '', 'no type errors (the @ts-expect-error lines prove the types are not any)')
  t.equal(result.code, 0)
})
