/** /proc readers: CPU time (utime+stime of every thread of a process) and RSS, by pid. */
import { readFileSync } from 'node:fs'

const TICK_US = 1_000_000 / 100 // USER_HZ is 100 on Linux

/** utime+stime of pid, in µs (all threads: JS, libuv pool, GC helpers). */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(rest[11]) + Number(rest[12])) * TICK_US
}

/** Resident set size of pid, in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = /VmRSS:\s+(\d+) kB/.exec(status)
  return m ? Number(m[1]) * 1024 : NaN
}

/** The command line of pid (to check it is node itself, not a wrapper). */
export function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
}

/** Read and write system calls made so far by pid (all threads), from /proc/<pid>/io. */
export function syscalls(pid: number): { reads: number; writes: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8')
    return { reads: Number(/syscr: (\d+)/.exec(io)?.[1]), writes: Number(/syscw: (\d+)/.exec(io)?.[1]) }
  } catch {
    return { reads: NaN, writes: NaN }
  }
}

/** Busy CPU time of the whole machine so far (all cores), in µs, from /proc/stat. */
export function machineBusyMicros(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]
  const f = line.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal ...: busy = all − idle − iowait
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0)
  return (total - f[3] - f[4]) * TICK_US
}
