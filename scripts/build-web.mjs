// Builds the browser assets that the server serves at `/`: web/dist/rtc-call.js (one ES module, Lit
// bundled in, with its source map) and web/dist/index.html. Fast and idempotent; web/dist is never
// committed. Every file is written to a temporary name and renamed into place, so that a server (or a
// parallel test file running this script too) never serves a half-written bundle.
import { build } from 'esbuild'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = join(root, 'web/dist')

async function put(path, contents) {
  const temporary = `${path}.${process.pid}.tmp`
  await writeFile(temporary, contents)
  await rename(temporary, path)
}

const started = performance.now()
await mkdir(dist, { recursive: true })
const [bundle, index] = await Promise.all([
  build({
    absWorkingDir: root,
    entryPoints: ['web/rtc-call/rtc-call.ts'],
    outfile: join(dist, 'rtc-call.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    minify: true,
    legalComments: 'eof',
    // experimentalDecorators + useDefineForClassFields: false come from here (STYLE.md: never define semantics).
    tsconfig: 'tsconfig.json',
    logLevel: 'warning',
    write: false,
  }),
  readFile(join(root, 'web/index.html')),
])
await Promise.all([
  ...bundle.outputFiles.map((file) => put(file.path, file.contents)),
  put(join(dist, 'index.html'), index),
])
const files = [...bundle.outputFiles.map((file) => basename(file.path)), 'index.html']
console.log(`web/dist: ${files.join(', ')} in ${Math.round(performance.now() - started)} ms`)
