/** The README cannot drift: its curl walkthrough runs against a real server, its config table matches config.ts. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { defaults, ENV } from '../server/config.js'
import { startServer } from './helpers/server.js'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

/** A persistent bash, like a terminal: blocks run in it one after another, keeping variables and jobs. */
class Terminal {
  output = ''
  private readonly shell: ChildProcessWithoutNullStreams
  private listeners: Array<() => void> = []
  private blocks = 0

  constructor(cwd: string) {
    this.shell = spawn('bash', ['--norc', '--noprofile'], { cwd, stdio: 'pipe' })
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString()
      for (const listener of this.listeners) listener()
    }
    this.shell.stdout.on('data', collect)
    this.shell.stderr.on('data', collect)
  }

  /** Runs a block and resolves when its last command has finished. */
  async run(block: string): Promise<string> {
    const marker = `__block_${++this.blocks}_done__`
    const start = this.output.length
    this.shell.stdin.write(`${block}\necho ${marker}\n`)
    await this.until(marker)
    return this.output.slice(start, this.output.indexOf(marker, start))
  }

  /** Resolves once the output contains `text` (a background job's output arrives when it arrives). */
  until(text: string): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (!this.output.includes(text)) return
        this.listeners = this.listeners.filter((l) => l !== check)
        resolve()
      }
      this.listeners.push(check)
      check()
    })
  }

  close(): void {
    this.shell.stdin.end('kill $(jobs -p) 2>/dev/null; exit\n')
  }
}

t.test('the curl walkthrough runs as written', async (t) => {
  const { url } = await startServer(t)
  const section = readme.slice(readme.indexOf('## curl walkthrough'))
  const blocks = [...section.matchAll(/```bash terminal=(\d)\n([\s\S]*?)```/g)].map((m) => ({
    terminal: Number(m[1]),
    code: m[2].replaceAll('http://localhost:8080', url),
  }))
  t.equal(blocks.length, 6, 'six steps')
  const dir = mkdtempSync(join(tmpdir(), 'sigpost-readme-'))
  const terminals = new Map([[1, new Terminal(dir)], [2, new Terminal(dir)]])
  t.teardown(() => {
    for (const terminal of terminals.values()) terminal.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const out: string[] = []
  for (const block of blocks) out.push(await terminals.get(block.terminal)!.run(block.code))
  const [aliceRegisters, bobRegisters, aliceCalls, bobAnswers, aliceHangsUp, bobLeaves] = out
  const alice = terminals.get(1)!

  t.equal(aliceRegisters.trim(), '', 'registering prints nothing but the stream')
  t.match(bobRegisters, '{"names":["alice","bob"],"next":null}')
  t.equal(aliceCalls.trim(), '', 'the candidate POST answers 202 with no body')
  t.match(bobAnswers, '["1","incomingCall"]')
  t.match(bobAnswers, '["2","iceCandidate"]')
  t.match(bobAnswers, '"state":"active"', 'accept answers with the call')
  t.match(bobAnswers, '"event":"startCommunication"')
  await alice.until('candidate:2 1 udp')
  t.match(alice.output, 'event: ready\ndata: {"name":"alice"}')
  t.match(alice.output, /id: \d+\nevent: callResponse\ndata: \{"callId":"[^"]+","response":"accepted"/)
  t.match(alice.output, /event: iceCandidate\ndata: \{"callId":"[^"]+","candidate":null\}/, 'end-of-candidates relayed')
  t.match(aliceHangsUp, /^204$/m)
  t.match(aliceHangsUp, '"state":"ended"')
  t.match(aliceHangsUp, '"endReason":"hangup"')
  t.match(bobLeaves, /"event":"stopCommunication","data":\{"callId":"[^"]+","reason":"hangup"\}/)
  t.match(bobLeaves, /^204$/m)
})

t.test('the configuration table matches server/config.ts', async (t) => {
  const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1))
  const rows = new Map([...table.matchAll(/^\| `([A-Z_]+)` \| ([^|]+) \|/gm)].map((m) => [m[1], m[2].trim()]))
  for (const [variable, [key]] of Object.entries(ENV)) {
    const value = defaults[key]
    const shown = rows.get(variable)
    const expected = Array.isArray(value) ? (value.length ? `\`${value.join(',')}\`` : undefined) : value === '' ? undefined : `\`${value}\``
    if (expected === undefined) t.match(shown, /^\(.+\)$/, `${variable}: no default`)
    else t.equal(shown, expected, variable)
  }
  t.equal(rows.size, Object.keys(ENV).length, 'no row for a variable that does not exist')
})
