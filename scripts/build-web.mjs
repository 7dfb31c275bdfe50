// Builds the browser assets that the server serves at `/`: web/dist/rtc-call.js (one ES module, Lit
// bundled in, with its source map) and web/dist/index.html. Idempotent; web/dist is never committed.
import { build } from 'esbuild'
import { copyFile, mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = `${root}web/dist`

const started = performance.now()
await mkdir(dist, { recursive: true })
await Promise.all([
  build({
    absWorkingDir: root,
    entryPoints: ['web/rtc-call/rtc-call.ts'],
    outfile: 'web/dist/rtc-call.js',
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
  }),
  copyFile(`${root}web/index.html`, `${dist}/index.html`),
])
console.log(`web/dist built in ${Math.round(performance.now() - started)} ms`)
