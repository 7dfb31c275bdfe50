/** Prometheus metrics, one registry per app (so tests can run several apps in one process). */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import type { Store } from './store/types.js'

export class Metrics {
  readonly registry = new Registry()
  readonly delivered: Counter<'transport' | 'event'>
  readonly errors: Counter<'code'>
  /**
   * Deliveries counted since the last scrape, by transport and event. Counting is on the path of every
   * relayed event, so it is a plain Map increment there; prom-client's counter takes the sums when scraped.
   */
  private readonly uncollected = { sse: new Map<string, number>(), poll: new Map<string, number>() }

  constructor(store: Store) {
    const registers = [this.registry]
    // Event-loop delay sampled every 100 ms instead of prom-client's 10 ms: a sampling timer that wakes the
    // process 100 times a second costs about 0.5 % of a core on an idle server (0.1 % at 100 ms).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 })
    new Gauge({
      name: 'sigpost_sessions', help: 'Live sessions (registered names).', registers,
      async collect() { this.set((await store.stats()).sessions) },
    })
    new Gauge({
      name: 'sigpost_calls', help: 'Calls held (ringing, active, or recently ended).', registers,
      async collect() { this.set((await store.stats()).calls) },
    })
    new Gauge({
      name: 'sigpost_open_streams', help: 'Attached receiving streams, by transport.', labelNames: ['transport'], registers,
      async collect() {
        const { streams } = await store.stats()
        this.set({ transport: 'sse' }, streams.sse)
        this.set({ transport: 'poll' }, streams.poll)
      },
    })
    new Gauge({
      name: 'sigpost_mailbox_undelivered_events', help: 'Events stored and not yet written to a stream, all sessions.', registers,
      async collect() { this.set((await store.stats()).undelivered) },
    })
    const uncollected = this.uncollected
    this.delivered = new Counter({
      name: 'sigpost_events_delivered_total', help: 'Events written to a receiving stream, by transport and event.',
      labelNames: ['transport', 'event'], registers,
      collect() {
        for (const transport of ['sse', 'poll'] as const) {
          for (const [event, count] of uncollected[transport]) if (count > 0) this.inc({ transport, event }, count)
          uncollected[transport].clear()
        }
      },
    })
    this.errors = new Counter({ name: 'sigpost_errors_total', help: 'Error responses, by code.', labelNames: ['code'], registers })
  }

  countDelivered(transport: 'sse' | 'poll', events: ReadonlyArray<{ event: string }>): void {
    const counts = this.uncollected[transport]
    for (const { event } of events) counts.set(event, (counts.get(event) ?? 0) + 1)
  }
}
