/**
 * The npm package as a user gets it: `npm pack` (which builds it on prepack), the tarball installed into
 * a fresh project as a user installs it (its dependencies from the registry, npm's cache first): no
 * EBADENGINE, no build tool, its size; there sigpost/client in Node, sigpost/fastify mounted under /signal
 * in an application of its own, every example of docs/embedding.md marked `run` as it is written, a
 * consumer's .ts file type-checked against the package's declarations, the custom-elements.json manifest
 * against docs/element.md, and `import 'sigpost/element'` bundled with esbuild and calling between two
 * Chromium pages.
 * scripts/test.sh sets SIGPOST_PACK_DIR: the first run packs into it, its Node 22 and 24 lanes install
 * the same tarball (packing under another Node would build the same files again).
 */
import { execFile, spawn } from 'node:child_process'
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { build } from 'esbuild'
import t, { type Test } from 'tap'
import { launchBrowser, openPeer, remoteVideoState, waitForRtcEvent } from '../helpers/browser.js'
import { startServer } from '../helpers/server.js'
import { within } from '../helpers/wait.js'

const run = promisify(execFile)
// Packing builds everything (bundles, declarations, the manifest) before the tests proper, and the last one
// drives a browser: about a minute alone, but past tap's 300 s on a loaded 2-core machine (seen at load 20).
t.setTimeout(600_000)
const repo = fileURLToPath(new URL('../..', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'sigpost-pack-'))
process.once('exit', () => rmSync(work, { recursive: true, force: true }))
t.teardown(() => rmSync(work, { recursive: true, force: true }))
const project = join(work, 'app')
/** The environment of a user's shell: no REDIS_URL (the normal case: the in-memory store). */
const userEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'REDIS_URL'))
/**
 * In a Node lane of scripts/test.sh (SIGPOST_NODE_LANE=22, 24), the cases whose outcome cannot depend on
 * the Node version (npm's file list, tsc, the manifest, a browser's bundle) are left to the main run.
 */
const lane = process.env.SIGPOST_NODE_LANE
const onceOnly = lane ? { skip: `the same on every Node: the main run has it (this is the Node ${lane} lane)` } : {}
/** The limit on what installing sigpost puts into node_modules, its dependencies included (bytes of files). */
const INSTALL_LIMIT = 40_000_000

interface Packed { filename: string; size: number; unpackedSize: number; files: { path: string }[] }

/** `npm pack` into SIGPOST_PACK_DIR once (later runs take that tarball), or into this run's folder. */
async function pack(): Promise<Packed & { tarball: string; reused: boolean }> {
  const shared = process.env.SIGPOST_PACK_DIR
  const record = shared && join(shared, 'pack.json')
  if (record && existsSync(record)) {
    const packed = JSON.parse(readFileSync(record, 'utf8')) as Packed
    return { ...packed, tarball: join(shared, packed.filename), reused: true }
  }
  const destination = shared ?? work
  mkdirSync(destination, { recursive: true })
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', destination], { cwd: repo, maxBuffer: 16 << 20 })
  const packed = JSON.parse(stdout.slice(stdout.indexOf('[')))[0] as Packed
  if (record) writeFileSync(record, JSON.stringify(packed))
  return { ...packed, tarball: join(destination, packed.filename), reused: false }
}

/** Every package under a node_modules folder, nested ones included: name → how many copies. */
function packagesIn(folder: string, found = new Map<string, number>()): Map<string, number> {
  if (!existsSync(folder)) return found
  for (const entry of readdirSync(folder)) {
    if (entry.startsWith('.')) continue
    const names = entry.startsWith('@') ? readdirSync(join(folder, entry)).map((scoped) => `${entry}/${scoped}`) : [entry]
    for (const name of names) {
      found.set(name, (found.get(name) ?? 0) + 1)
      packagesIn(join(folder, name, 'node_modules'), found)
    }
  }
  return found
}

/** The bytes of the files under a folder (what `du --apparent-size` counts), and the disk blocks they take. */
function sizeOf(folder: string): { bytes: number; onDisk: number } {
  let bytes = 0
  let onDisk = 0
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name)
    if (entry.isDirectory()) {
      const inner = sizeOf(path)
      bytes += inner.bytes
      onDisk += inner.onDisk
    } else if (entry.isFile()) {
      const stat = lstatSync(path)
      bytes += stat.size
      onDisk += stat.blocks * 512
    }
  }
  return { bytes, onDisk }
}

let tarball = ''
let reused = false
let packed: Packed
let installOutput = ''
let installed: { packages: Map<string, number>; bytes: number; onDisk: number }
t.before(async () => {
  ;({ tarball, reused, ...packed } = await pack())
  mkdirSync(project, { recursive: true })
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  const { stdout, stderr } = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: project, env: userEnv, maxBuffer: 16 << 20 })
  installOutput = stdout + stderr
  installed = { packages: packagesIn(join(project, 'node_modules')), ...sizeOf(join(project, 'node_modules')) }
  // The type-check needs TypeScript's view of Node: a consumer in TypeScript installs @types/node too.
  mkdirSync(join(project, 'node_modules/@types'), { recursive: true })
  symlinkSync(join(repo, 'node_modules/@types/node'), join(project, 'node_modules/@types/node'))
  cpSync(join(repo, 'test/fixtures/package-consumer'), project, { recursive: true })
})

t.test('npm install of the tarball: no engine warning, no build tool, at most 40 MB', async (t) => {
  t.comment(`Node ${process.versions.node}: npm install ${packed.filename} (${reused ? 'packed by an earlier run' : 'packed now'}): ${installOutput.trim().split('\n').at(-1)}`)
  t.notMatch(installOutput, /EBADENGINE/, 'no EBADENGINE (every dependency supports this Node)')
  t.notMatch(installOutput, /npm (warn|error)/i, 'no warning at all')
  const tools = [...installed.packages.keys()].filter((name) => /^(esbuild|tsx|@esbuild\/.*|typescript|ts-node)$/.test(name))
  t.same(tools, [], 'no esbuild, tsx or TypeScript in the consumer\'s node_modules')
  t.ok(installed.packages.has('fastify') && installed.packages.has('lit'), 'the runtime dependencies are there')
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1)
  t.comment(`installed: ${installed.packages.size} packages, ${mb(installed.bytes)} MB of files (${mb(installed.onDisk)} MB of disk blocks)`)
  t.ok(installed.bytes <= INSTALL_LIMIT, `${mb(installed.bytes)} MB ≤ ${mb(INSTALL_LIMIT)} MB`)
  t.ok(existsSync(join(project, 'node_modules/sigpost/LICENSE')), 'the tarball holds LICENSE')
  const manifest = JSON.parse(readFileSync(join(project, 'node_modules/sigpost/package.json'), 'utf8'))
  t.match(manifest, { license: 'MIT', repository: { type: 'git', url: String }, type: 'module' }, 'license, repository, ES modules')
  t.notOk('esbuild' in manifest.dependencies || 'tsx' in manifest.dependencies, 'build tools are devDependencies')
})

t.test('npm pack --dry-run: the files and entry points the package promises, nothing else', onceOnly, async (t) => {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repo, maxBuffer: 16 << 20 })
  const files = (JSON.parse(stdout.slice(stdout.indexOf('[')))[0].files as { path: string }[]).map((f) => f.path)
  const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as {
    exports: Record<string, string | { types: string; default: string }>
    bin: Record<string, string>
    customElements: string
    license: string
  }
  for (const [entry, target] of Object.entries(pkg.exports)) {
    for (const path of typeof target === 'string' ? [target] : [target.types, target.default]) {
      t.ok(files.includes(path.replace(/^\.\//, '')), `${entry}: ${path} is packed`)
    }
  }
  t.ok(files.includes(pkg.bin.sigpost), 'the bin is packed')
  t.ok(files.includes('web/dist/rtc-call.js') && files.includes('web/dist/index.html'), 'the demo page and its bundle')
  t.same(files.filter((f) => /^(server|web|test|scripts|bench)\/.*\.ts$/.test(f) || f.startsWith('node_modules/')), [], 'no sources, tests or dependencies')
  t.equal(pkg.customElements, 'custom-elements.json', 'package.json names the custom-elements manifest')
  t.ok(packed.files.some((f) => f.path === pkg.customElements), 'the tarball holds it, at the root')
  t.ok(['http-api', 'element', 'operations', 'embedding'].every((doc) => files.includes(`docs/${doc}.md`)), 'the docs the README links')
  t.ok(files.includes('LICENSE') && pkg.license === 'MIT', 'the MIT licence: its text and the license field')
  t.same(files.filter((f) => !/^(bin|dist|web\/dist|docs)\//.test(f) && !['package.json', 'README.md', 'LICENSE', 'custom-elements.json'].includes(f)), [], 'only the built files and the docs')
  t.comment(`packed ${(packed.size / 1024).toFixed(0)} KiB, unpacked ${(packed.unpackedSize / 1024).toFixed(0)} KiB, ${packed.files.length} files`)
})

/** Starts a server script of the fresh project (as a user would: REDIS_URL unset, PORT=0); its first line. */
async function serve(t: Test, file: string): Promise<string> {
  const child = spawn(process.execPath, [file], { cwd: project, env: { ...userEnv, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => void child.kill('SIGKILL'))
  return within(Promise.race([
    createInterface({ input: child.stdout })[Symbol.asyncIterator]().next().then((next) => String(next.value)),
    new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${file} exited (${code})`)))),
  ]), `${file}'s first line (its URL)`)
}

interface Example { lang: string; run?: string; file?: string; typecheck: boolean; code: string }

/** The fenced blocks of docs/embedding.md, with their marks: ```js run[=server] file=NAME, ```ts typecheck. */
function embeddingExamples(): Example[] {
  const text = readFileSync(join(repo, 'docs/embedding.md'), 'utf8')
  return [...text.matchAll(/^```(\w+)([^\n]*)\n([\s\S]*?)^```$/gm)].map(([, lang, info, code]) => ({
    lang,
    run: /(?:^| )run(?:=(\w+))?(?: |$)/.exec(info)?.[1] ?? (/(?:^| )run(?: |$)/.test(info) ? '' : undefined),
    file: /file=(\S+)/.exec(info)?.[1],
    typecheck: /(?:^| )typecheck(?: |$)/.test(info),
    code,
  }))
}

t.test('sigpost/client in Node completes a long-poll exchange against a server', async (t) => {
  const { url } = await startServer(t)
  const { stdout } = await run(process.execPath, ['client.mjs', url], { cwd: project })
  const result = JSON.parse(stdout)
  t.equal(result.transport, 'poll')
  t.equal(result.event, 'incomingCall')
  t.match(result.data, { callId: result.callId, from: 'alice', sdpOffer: { type: 'offer' } })
})

t.test('sigpost/fastify under /signal in an application of its own: a whole call over the prefix', async (t) => {
  const line = await serve(t, 'mount.mjs')
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

t.test('docs/embedding.md: every example marked run runs as it is written, with REDIS_URL unset', async (t) => {
  const examples = embeddingExamples()
  const unmarked = examples.filter((e) => e.lang === 'js' && e.run === undefined && !e.code.includes("'sigpost/element'"))
  t.same(unmarked.map((e) => e.code.split('\n')[0]), [], "every js example is run (sigpost/element's are bundled, below)")
  const servers = examples.filter((e) => e.run === 'server')
  const scripts = examples.filter((e) => e.run === '')
  t.ok(servers.length >= 2 && scripts.length >= 1, `${servers.length} servers (ES module, CommonJS), ${scripts.length} script`)
  t.ok([...servers, ...scripts].every((e) => e.file), 'each names its file')
  for (const example of [...servers, ...scripts]) writeFileSync(join(project, example.file!), example.code)

  // The servers start side by side (each is a Node start and a plugin's registration: seconds on a loaded machine).
  const lines = await Promise.all(servers.map((server) => serve(t, server.file!)))
  await Promise.all(servers.map(async (server, i) => {
    const origin = /http:\/\/[^\s/]+/.exec(lines[i])?.[0]
    t.ok(origin, `${server.file} prints its address: "${lines[i]}"`)
    t.match(await (await fetch(`${origin}/signal/readyz`)).json(), { status: 'ready' }, `${server.file}: sigpost is ready under /signal (no Redis dialled)`)
    if (server.code.includes('server="/signal"')) {
      const page = await (await fetch(`${origin}/`)).text()
      t.match(page, '<rtc-call server="/signal">', `${server.file}: the page names the API by its prefix alone`)
      const script = await fetch(`${origin}${/src="([^"]+)"/.exec(page)?.[1]}`)
      t.equal(script.status, 200, "the page's script is served, same origin")
      t.match(script.headers.get('content-type'), /javascript/)
    }
    for (const example of scripts) {
      const { stdout } = await run(process.execPath, [example.file!], { cwd: project, env: { ...userEnv, SIGPOST_URL: `${origin}/signal` } })
      // What the example's comments say it prints.
      t.equal(stdout, 'alice is calling\nbob accepted\npeer_not_found\n', `${example.file} against ${server.file}: bob receives, accepts; an error's code`)
    }
  }))
})

t.test("a consumer's .ts file type-checks against the package's declarations", onceOnly, async (t) => {
  // With it, the TypeScript examples of docs/embedding.md (```ts typecheck).
  const typed = embeddingExamples().filter((e) => e.typecheck).map((e, i) => {
    writeFileSync(join(project, `embedding-${i + 1}.ts`), e.code)
    return `embedding-${i + 1}.ts`
  })
  t.ok(typed.length >= 1, `${typed.length} TypeScript example(s) of docs/embedding.md`)
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM', 'DOM.Iterable'],
      strict: true, noEmit: true, skipLibCheck: true, types: ['node'],
    },
    files: ['consumer.ts', ...typed],
  }))
  t.ok(lstatSync(join(project, 'node_modules/sigpost')).isDirectory(), 'sigpost is installed, not linked')
  const result = await run(join(repo, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: project }).then(
    () => ({ code: 0, stdout: '' }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  )
  t.equal(result.stdout, '', 'no type errors (the @ts-expect-error lines prove the types are not any)')
  t.equal(result.code, 0)
})

/**
 * The code spans in one column of the table rows under `heading` of docs/element.md (header cells hold none),
 * up to the next heading of any level (a subsection's table, e.g. the causes under Events, is not the list).
 */
function documented(heading: string, column = 0, pattern = /`([^`]+)`/g): string[] {
  const text = readFileSync(join(repo, 'docs/element.md'), 'utf8')
  const start = text.indexOf(`\n${heading}\n`)
  const next = text.slice(start + 1).search(/\n#{2,} /)
  const rows = text.slice(start, next < 0 ? undefined : start + 1 + next).split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('|---'))
  return rows.flatMap((row) => [...(row.split(' | ')[column] ?? '').matchAll(pattern)].map((m) => m[1]))
}

interface Manifest {
  schemaVersion: string
  modules: Array<{
    path: string
    declarations?: Array<{
      kind: string; name: string; tagName?: string; customElement?: boolean
      attributes?: Array<{ name: string; fieldName?: string }>
      members?: Array<{ kind: string; name: string; static?: boolean; privacy?: string }>
      events?: Array<{ name: string; type?: { text: string } }>
      cssParts?: Array<{ name: string }>
      cssProperties?: Array<{ name: string }>
      slots?: Array<{ name: string }>
    }>
    exports?: Array<{ kind: string; name: string; declaration: { name: string; module: string } }>
  }>
}

t.test('custom-elements.json in the installed package declares <rtc-call> as docs/element.md documents it', onceOnly, async (t) => {
  const root = join(project, 'node_modules/sigpost')
  const manifest = JSON.parse(readFileSync(join(root, 'custom-elements.json'), 'utf8')) as Manifest
  t.match(manifest.schemaVersion, /^1\./, 'schema 1.x')
  const definition = manifest.modules.flatMap((m) => m.exports ?? []).find((e) => e.kind === 'custom-element-definition')
  t.match(definition, { name: 'rtc-call', declaration: { name: 'RtcCall' } }, 'a custom-element-definition of rtc-call')
  t.ok(existsSync(join(root, definition!.declaration.module)), `its module (${definition!.declaration.module}) is in the package`)
  const element = manifest.modules.flatMap((m) => m.declarations ?? []).find((d) => d.tagName === 'rtc-call')
  t.ok(element?.customElement, 'the class is declared as the custom element rtc-call')
  const names = <T extends { name: string }>(list: T[] | undefined) => (list ?? []).map((x) => x.name).sort()

  t.same(names(element!.attributes), documented('## Attributes and properties', 0).sort(), 'every documented attribute, and no other')
  const fields = (element!.members ?? []).filter((m) => m.kind === 'field' && !m.static && m.privacy === undefined)
  t.same(names(fields), documented('## Attributes and properties', 1).sort(), 'every documented property, and no other')
  const methods = (element!.members ?? []).filter((m) => m.kind === 'method' && !m.static && m.privacy === undefined)
  t.same(names(methods), documented('## Methods', 0, /`(\w+)\(/g).sort(), 'every documented method, and no other')
  t.same(names(element!.events), documented('## Events', 0).sort(), 'every documented event, and no other')
  t.ok(element!.events!.every((e) => /^CustomEvent<\{.*\}>$/.test(e.type?.text ?? '')), "each with its detail's type")
  t.same(names(element!.cssProperties), documented('## Styling: CSS properties, parts, slot', 0).filter((n) => n.startsWith('--')).sort(), 'every documented CSS property')
  t.same(names(element!.cssParts), documented('## Styling: CSS properties, parts, slot', 0).filter((n) => !n.startsWith('--')).sort(), 'every documented part')
  t.same(names(element!.slots), [''], 'the default slot')

  // Every part the element's templates name is in the manifest (a part added without its @csspart fails here).
  const sources = readdirSync(join(repo, 'web/rtc-call')).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(join(repo, 'web/rtc-call', f), 'utf8')).join('\n')
  const inTemplates = new Set([
    ...[...sources.matchAll(/part="([^"]+)"/g)].flatMap((m) => m[1].split(/\s+/)),
    ...[...sources.matchAll(/part: '([a-z-]+)'/g)].map((m) => m[1]),
  ].flatMap((part) => (part === '${kind}-select' ? ['videoinput-select', 'audioinput-select', 'audiooutput-select'] : [part])).filter((part) => !part.includes('$')))
  t.same([...inTemplates].filter((part) => !names(element!.cssParts).includes(part)), [], `the ${inTemplates.size} parts of the templates are all declared`)
})

t.test("import 'sigpost/element' bundled with esbuild: a call between two Chromium pages of that bundle", onceOnly, async (t) => {
  const { url: server } = await startServer(t)
  writeFileSync(join(project, 'page.js'), "import 'sigpost/element'\n")
  const { metafile } = await build({
    absWorkingDir: project, entryPoints: ['page.js'], bundle: true, format: 'esm', outfile: 'page.bundle.js',
    metafile: true, preserveSymlinks: true, logLevel: 'silent',
  })
  const inputs = Object.keys(metafile.inputs)
  t.ok(inputs.includes('node_modules/sigpost/dist/web/element.js'), 'the element comes from the installed package')
  t.ok(inputs.some((input) => input.startsWith('node_modules/lit')), 'and Lit from the project, bundled once')
  t.same(inputs.filter((input) => /node_modules\/(typebox|@sinclair|fastify|@fastify|ajv|pino)\//.test(input)), [],
    'no server-side library in a browser bundle (protocol/ gives the element names, not schemas)')
  const bundle = readFileSync(join(project, 'page.bundle.js'))

  // A page of its own, on an origin of its own: the bundle, and an element pointing at sigpost.
  const site = http.createServer((request, response) => {
    const { pathname, searchParams } = new URL(request.url!, 'http://x')
    if (pathname === '/page.bundle.js') return void response.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle)
    const name = searchParams.get('name') ?? ''
    response.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>bundled</title><link rel="icon" href="data:,">
      <script type="module" src="/page.bundle.js"></script>
      <rtc-call server="${server}" name="${name}"${name === 'bob' ? ' auto-answer' : ''}></rtc-call>`)
  })
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => site.close(() => resolve())))
  const page = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`

  const browser = await launchBrowser(t)
  const [alice, bob] = await Promise.all([openPeer(t, browser, `${page}?name=alice`, 'alice'), openPeer(t, browser, `${page}?name=bob`, 'bob')])
  await Promise.all([waitForRtcEvent(alice.page, 'rtc-registered'), waitForRtcEvent(bob.page, 'rtc-registered')])
  const callId = await alice.page.locator('rtc-call').evaluate((element: any) => element.call('bob'))
  const [connected] = await Promise.all([
    waitForRtcEvent(alice.page, 'rtc-connected', { detail: { callId } }),
    waitForRtcEvent(bob.page, 'rtc-connected', { detail: { callId } }),
  ])
  t.equal(connected.detail.peer, 'bob', "alice's element is connected to bob")
  const video = await remoteVideoState(alice.page)
  t.ok(video.framesDecoded && video.width > 0, "alice sees bob's live video", { video })
  await alice.page.locator('rtc-call').evaluate((element: any) => element.hangUp())
  const ended = await waitForRtcEvent(bob.page, 'rtc-ended', { detail: { callId } })
  t.equal(ended.detail.reason, 'hangup', 'bob sees the hang-up')
})
