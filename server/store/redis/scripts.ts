/**
 * The Redis store's steps, read once at start from lua/: each step is one script that runs atomically in
 * Redis, so any instance may serve any request. A step's file (lua/<step>.lua) is its `main()`; every
 * script Redis receives is lib.lua (the shared functions and the key layout), that `main()`, and
 * idempotent.lua (the Idempotency-Key record around it). ioredis loads each once (EVALSHA afterwards).
 *
 * Each file opens with comment lines (why it exists, its ARGV); they are dropped here, so Redis receives
 * only the code. The build copies the .lua files beside the compiled .js (scripts/build-server.mjs).
 */
import { readFileSync } from 'node:fs'

/** The names of the steps, one lua/<name>.lua each. */
const STEPS = [
  'register', 'find', 'endSession', 'attach', 'read', 'detach', 'createCall', 'acceptCall', 'rejectCall', 'relay',
  'endCall', 'ringTimeout', 'block', 'blocks', 'claimTimers',
] as const

export type ScriptName = (typeof STEPS)[number]

/** A .lua file's code: its opening comment lines dropped, and the blank lines around it. */
function lua(file: string): string {
  return readFileSync(new URL(`./lua/${file}.lua`, import.meta.url), 'utf8').replace(/^(?:--.*\n)+/, '').trim()
}

const LIB = lua('lib')
const IDEMPOTENT = lua('idempotent')

/** Every step's script, as Redis receives it: the shared functions, the step as main(), the idempotency record. */
export const SCRIPTS = Object.fromEntries(
  STEPS.map((step) => [step, `\n${LIB}\n\nlocal function main()\n\n${lua(step)}\nend\n\n${IDEMPOTENT}\n`]),
) as Record<ScriptName, string>
