// Reads tap's raw TAP output (one file or several: scripts/test.sh's run and its Node lanes) and prints
// "N passed, N failed[, N skipped]", counting test cases: the points one level inside each test file (its
// t.test blocks, or top-level assertions). A test file that failed without a failing case (it crashed, or
// timed out) counts as one failure.
import { readFileSync } from 'node:fs'

const lines = process.argv.slice(2).flatMap((file) => readFileSync(file, 'utf8').split('\n'))
let passed = 0
let failed = 0
let skipped = 0
let caseFailuresInFile = 0
for (const line of lines) {
  const inner = /^ {4}(not ok|ok) \d+/.exec(line)
  if (inner) {
    if (/# SKIP|# TODO/i.test(line)) skipped++
    else if (inner[1] === 'ok') passed++
    else {
      failed++
      caseFailuresInFile++
    }
    continue
  }
  const file = /^(not ok|ok) \d+/.exec(line)
  if (file) {
    if (file[1] === 'not ok' && caseFailuresInFile === 0) failed++
    caseFailuresInFile = 0
  }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
