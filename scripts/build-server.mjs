// Compiles the server (server/**/*.ts, and protocol/**/*.ts that it imports) to dist/server/*.js and
// dist/protocol/*.js, one file per source file, and copies server/**/*.lua (the Redis store's scripts,
// read at start beside the .js) to dist/server/, for `npm start`
// and the benchmark. Plain esbuild transpilation: no bundling, no `keepNames`. (tsx, which runs the
// sources in tests, keeps function names by wrapping every function it creates in a helper that defines
// its `name`: each such closure then carries a 256-byte property store, several per open stream, plus
// the call on every request.) Every file is written to a temporary name and renamed into place.
import { build } from 'esbuild'
import { copyFile, mkdir, readdir, rename, writeFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = join(root, 'dist/server')

async function sources(dir, ext = '.ts') {
  const entries = await readdir(join(root, dir), { withFileTypes: true })
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? sources(join(dir, e.name), ext) : e.name.endsWith(ext) ? [join(dir, e.name)] : [])))
  return nested.flat()
}

const started = performance.now()
const result = await build({
  absWorkingDir: root,
  // protocol/ (the wire format the server imports) lands beside it, in dist/protocol.
  entryPoints: [...await sources('server'), ...await sources('protocol')],
  outdir: join(root, 'dist'),
  outbase: '.',
  bundle: false,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  // The same class-field semantics as the type-checked sources (STYLE.md).
  tsconfig: 'tsconfig.json',
  logLevel: 'warning',
  write: false,
})
await Promise.all(result.outputFiles.map(async (file) => {
  await mkdir(dirname(file.path), { recursive: true })
  const temporary = `${file.path}.${process.pid}.tmp`
  await writeFile(temporary, file.contents)
  await rename(temporary, file.path)
}))
// The Lua files, to the same place relative to their .js (new URL('./lua/…', import.meta.url)).
const scripts = await sources('server', '.lua')
await Promise.all(scripts.map(async (file) => {
  const target = join(root, 'dist', file)
  await mkdir(dirname(target), { recursive: true })
  const temporary = `${target}.${process.pid}.tmp`
  await copyFile(join(root, file), temporary)
  await rename(temporary, target)
}))
const count = result.outputFiles.filter((file) => file.path.endsWith('.js')).length
console.log(`${relative(root, out)}, dist/protocol: ${count} modules and ${scripts.length} Lua scripts in ${Math.round(performance.now() - started)} ms`)
