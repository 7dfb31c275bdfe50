/**
 * The long-poll receiver: the same cursor and envelope as the SSE stream, answered as one JSON body.
 * It attaches to the store as the session's one live stream while it waits; a newer one replaces it.
 */
import type { ServerResponse } from 'node:http'
import type { FastifyReply } from 'fastify'
import type { Attachment, StreamListener } from '../store/types.js'
import type { Closable, ReceiverHub, Why } from './hub.js'
import { WakeLatch } from './wake-latch.js'

export class PollReceiver implements StreamListener, Closable {
  private readonly latch = new WakeLatch()
  closed?: Why
  private response?: ServerResponse
  finished: Promise<void> | undefined

  constructor(private readonly hub: ReceiverHub) {
    hub.add(this)
  }

  wake(): void {
    this.latch.fire()
  }

  close(why: Why): void {
    this.closed ??= why
    this.hub.remove(this)
    this.latch.fire()
  }

  destroy(): void {
    if (this.response && !this.response.writableFinished) this.response.destroy()
  }

  /**
   * Everything after the cursor, at once if there is any; otherwise waits up to `waitMs` for the first
   * event. Returns the response body as a string: each event's data was serialised once when stored.
   */
  async respond(reply: FastifyReply, attachment: Attachment, waitMs: number): Promise<string> {
    const res = reply.raw
    this.response = res
    this.finished = new Promise((resolve) => {
      res.once('finish', resolve)
      res.once('close', resolve)
    })
    res.on('close', () => this.close('disconnected'))
    const timer = setTimeout(() => this.latch.fire(), waitMs).unref()
    try {
      let events = await attachment.read()
      if (events.length === 0 && waitMs > 0 && !this.closed) {
        await this.latch.wait()
        // Candidates come in bursts: gather what the same tick stored into one answer.
        await new Promise((resolve) => setImmediate(resolve))
        events = this.closed ? [] : await attachment.read()
      }
      if (events.length > 0) {
        attachment.sent(events[events.length - 1].id)
        this.hub.metrics.countDelivered('poll', events)
      }
      const items = events.map((e) => `{"id":"${e.id}","event":"${e.event}","data":${e.json}}`).join(',')
      return `{"events":[${items}]${this.closed === 'replaced' ? ',"replaced":true' : ''}}`
    } finally {
      clearTimeout(timer)
      this.hub.remove(this)
      attachment.detach()
    }
  }
}
