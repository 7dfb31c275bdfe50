// The suites test/stores/matrix.ts names for Redis, in one process sharing one redis-server.
import { runStore } from './matrix.js'

await runStore('redis')
