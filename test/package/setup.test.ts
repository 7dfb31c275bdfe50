/** The set-up a new user meets: the Node version named by package.json, the README and the lock file agree. */
import { readFileSync } from 'node:fs'
import t from 'tap'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8'))
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

t.test('engines.node and the README name the same minimum Node version, one that runs the server', async (t) => {
  const engine = /^>=(\d+)\.(\d+)$/.exec(pkg.engines.node)
  t.ok(engine, `engines.node is a plain minimum: ${pkg.engines.node}`)
  const [, major, minor] = engine!
  t.match(readme, new RegExp(`Node ${major}\\.${minor} or newer`), 'the README names the same version')
  // @fastify/static require()s content-disposition 3 (an ES module): Node does that unflagged from 20.19.
  t.ok(Number(major) > 20 || (Number(major) === 20 && Number(minor) >= 19), 'at least 20.19')
})

t.test('the lock file is in step with package.json (npm ci accepts it, npm install does not rewrite it)', async (t) => {
  const root = lock.packages['']
  t.equal(root.name, pkg.name)
  t.equal(root.version, pkg.version)
  t.same(root.engines, pkg.engines)
  t.same(root.bin ?? {}, pkg.bin ?? {})
  t.same(root.dependencies, pkg.dependencies)
  t.same(root.devDependencies, pkg.devDependencies)
})
