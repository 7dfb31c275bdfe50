// The suites test/stores/matrix.ts names for the in-memory store, in one process.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { runStore, STORES } from './matrix.js'

t.test("package.json's tap.exclude names exactly the memory suites (each runs once, here)", async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  const pattern = (pkg.tap.exclude as string[]).find((p) => p.startsWith('test/server/@('))
  const excluded = /^test\/server\/@\(([^)]+)\)\.test\.ts$/.exec(pattern ?? '')?.[1].split('|').map((name) => `server/${name}`)
  t.same(excluded?.sort(), [...STORES.memory].sort())
})

await runStore('memory')
