// Import cycles in web/, server/ and protocol/ (type-only imports included: a circle of types is still a
// circle a reader has to untangle). Prints every cycle found; exits non-zero if there is any.
import ts from 'typescript'
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const dirs = ['web', 'server', 'protocol']

function walk(dir, out) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) {
      if (entry !== 'node_modules' && entry !== 'dist') walk(path, out)
    } else if (/\.ts$/.test(entry) && !/\.d\.ts$/.test(entry)) out.push(path)
  }
  return out
}

const files = dirs.flatMap((dir) => (existsSync(join(root, dir)) ? walk(join(root, dir), []) : []))
const graph = new Map()
for (const file of files) {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
  const targets = []
  for (const { fileName } of importedFiles) {
    if (!fileName.startsWith('.')) continue
    const target = resolve(dirname(file), fileName.replace(/\.js$/, '.ts'))
    const candidates = [target, `${target}.ts`, join(target, 'index.ts')]
    const found = candidates.find((candidate) => graph.has(candidate) || files.includes(candidate))
    if (found) targets.push(found)
  }
  graph.set(file, targets)
}

// Tarjan's strongly connected components: every component of more than one file (or a file importing
// itself) is a cycle; one path around it is printed.
let index = 0
const indices = new Map()
const low = new Map()
const stack = []
const onStack = new Set()
const components = []
function connect(node) {
  indices.set(node, index)
  low.set(node, index)
  index++
  stack.push(node)
  onStack.add(node)
  for (const next of graph.get(node) ?? []) {
    if (!indices.has(next)) {
      connect(next)
      low.set(node, Math.min(low.get(node), low.get(next)))
    } else if (onStack.has(next)) low.set(node, Math.min(low.get(node), indices.get(next)))
  }
  if (low.get(node) === indices.get(node)) {
    const component = []
    let member
    do {
      member = stack.pop()
      onStack.delete(member)
      component.push(member)
    } while (member !== node)
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) components.push(component)
  }
}
for (const file of graph.keys()) if (!indices.has(file)) connect(file)

/** One cycle through the component, from its first file (breadth-first back to the start). */
function cycleIn(component) {
  const members = new Set(component)
  const start = [...component].sort()[0]
  const previous = new Map([[start, null]])
  const queue = [start]
  while (queue.length) {
    const node = queue.shift()
    for (const next of graph.get(node) ?? []) {
      if (!members.has(next)) continue
      if (next === start) {
        const path = [node]
        for (let at = previous.get(node); at; at = previous.get(at)) path.unshift(at)
        return [...path, start]
      }
      if (!previous.has(next)) {
        previous.set(next, node)
        queue.push(next)
      }
    }
  }
  return [start, start]
}

for (const component of components) {
  const names = component.map((file) => relative(root, file)).sort()
  console.log(`cycle: ${names.length} files: ${names.join(', ')}`)
  console.log(`  e.g. ${cycleIn(component).map((file) => relative(root, file)).join(' → ')}`)
}
console.log(`import cycles: ${components.length} among ${files.length} files`)
process.exit(components.length ? 1 : 0)
