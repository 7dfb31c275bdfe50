// The suites test/stores/matrix.ts names for Sentinel, in one process sharing one Sentinel set.
import { runStore } from './matrix.js'

await runStore('sentinel')
