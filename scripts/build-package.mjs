// The browser/Node entry points of the npm package (run by `prepack`, never committed):
// dist/web/client.js (SignalClient, no dependencies, for browsers and Node) and dist/web/element.js
// (defines <rtc-call>; `lit` stays an import, so an application that uses Lit itself loads it once).
// The server's own files come from build-server.mjs, the type declarations from tsconfig.build.json.
import { build } from 'esbuild'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const started = performance.now()
const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  target: 'es2022',
  sourcemap: true,
  // experimentalDecorators + useDefineForClassFields: false (STYLE.md: never define semantics).
  tsconfig: 'tsconfig.json',
  logLevel: 'warning',
}
await Promise.all([
  build({ ...common, entryPoints: ['web/signal-client.ts'], outfile: 'dist/web/client.js', platform: 'neutral' }),
  build({ ...common, entryPoints: ['web/rtc-call/rtc-call.ts'], outfile: 'dist/web/element.js', platform: 'browser', external: ['lit', 'lit/*', '@lit/*'] }),
])
console.log(`dist/web: client.js, element.js in ${Math.round(performance.now() - started)} ms`)
