/**
 * The call's quality from `getStats()`, every SAMPLE_MS while connected: round-trip time (the selected
 * ICE candidate pair's `currentRoundTripTime`, else the largest RTCP `remote-inbound-rtp.roundTripTime`)
 * and packet loss (what the received streams lost since the previous sample, `inbound-rtp.packetsLost`
 * against `packetsReceived`).
 *
 * Thresholds (docs/element.md), worst one wins:
 * - `good`: RTT below 300 ms and loss below 2 % (ITU-T G.114's 150 ms one way: talk feels natural)
 * - `fair`: RTT below 600 ms and loss below 8 %
 * - `poor`: anything worse.
 * `null` until a first measurement, and after the call.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit'

export type Quality = 'good' | 'fair' | 'poor'

export interface QualitySample {
  quality: Quality
  /** Round-trip time in ms, null when the browser has not measured one yet. */
  rttMs: number | null
  /** Lost packets in percent of the packets due since the last sample (0–100). */
  lossPercent: number
}

export const QUALITY_THRESHOLDS = { good: { rttMs: 300, lossPercent: 2 }, fair: { rttMs: 600, lossPercent: 8 } } as const
export const SAMPLE_MS = 2000

export function rate(rttMs: number | null, lossPercent: number): Quality {
  const rtt = rttMs ?? 0
  if (rtt < QUALITY_THRESHOLDS.good.rttMs && lossPercent < QUALITY_THRESHOLDS.good.lossPercent) return 'good'
  if (rtt < QUALITY_THRESHOLDS.fair.rttMs && lossPercent < QUALITY_THRESHOLDS.fair.lossPercent) return 'fair'
  return 'poor'
}

export class CallQualityController implements ReactiveController {
  quality: Quality | null = null
  last: QualitySample | null = null
  private pc: RTCPeerConnection | undefined
  private timer: ReturnType<typeof setInterval> | undefined
  private lost = 0
  private received = 0

  /** `onChange` runs when the quality level changes (the first measurement included). */
  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly onChange: (sample: QualitySample) => void,
  ) {
    host.addController(this)
  }

  hostDisconnected(): void {
    this.stop()
  }

  /** Starts measuring (the connection is connected). */
  start(pc: RTCPeerConnection): void {
    if (this.pc === pc) return
    this.stop()
    this.pc = pc
    this.timer = setInterval(() => void this.sample(pc), SAMPLE_MS)
    void this.sample(pc)
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.pc = undefined
    this.lost = 0
    this.received = 0
    if (this.quality !== null || this.last !== null) {
      this.quality = null
      this.last = null
      this.host.requestUpdate()
    }
  }

  private async sample(pc: RTCPeerConnection): Promise<void> {
    let report: RTCStatsReport
    try {
      report = await pc.getStats()
    } catch {
      return // closed meanwhile
    }
    if (this.pc !== pc) return
    let pairRtt: number | undefined
    let rtcpRtt: number | undefined
    let lost = 0
    let received = 0
    let selectedPair: string | undefined
    report.forEach((s: any) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) selectedPair = s.selectedCandidatePairId
    })
    report.forEach((s: any) => {
      if (s.type === 'candidate-pair' && typeof s.currentRoundTripTime === 'number') {
        // Chromium names the pair on its transport; Firefox marks it `selected`.
        if (s.id === selectedPair || (selectedPair === undefined && (s.selected || s.nominated) && s.state === 'succeeded')) {
          pairRtt = s.currentRoundTripTime
        }
      }
      if (s.type === 'remote-inbound-rtp' && typeof s.roundTripTime === 'number') rtcpRtt = Math.max(rtcpRtt ?? 0, s.roundTripTime)
      if (s.type === 'inbound-rtp') {
        lost += Math.max(0, s.packetsLost ?? 0)
        received += s.packetsReceived ?? 0
      }
    })
    const rtt = pairRtt ?? rtcpRtt
    const dueNow = lost - this.lost + (received - this.received)
    const lossPercent = dueNow > 0 ? Math.round(((lost - this.lost) / dueNow) * 1000) / 10 : 0
    this.lost = lost
    this.received = received
    if (rtt === undefined && received === 0) return // nothing measured yet
    const rttMs = rtt === undefined ? null : Math.round(rtt * 1000)
    const sample: QualitySample = { quality: rate(rttMs, lossPercent), rttMs, lossPercent }
    this.last = sample
    const changed = sample.quality !== this.quality
    this.quality = sample.quality
    this.host.requestUpdate()
    if (changed) this.onChange(sample)
  }
}
