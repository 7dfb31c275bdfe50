/**
 * What one peer connection's gathering says about its TURN servers: why a call that cannot connect failed
 * (docs/element.md "Why a call could not connect": `relay_unreachable`, `relay_refused`, `no_relay`,
 * `ice_failed`), and a warning for each TURN URL that failed (the element's `rtc-warning`). CallSession
 * feeds it the configured iceServers, the gathered candidates and the `icecandidateerror` events; it knows
 * nothing of signalling.
 */
import type { FailureCause } from '../protocol/names.js'

/** A TURN URL that failed while gathering. */
export interface IceWarning {
  code: Extract<FailureCause, 'relay_unreachable' | 'relay_refused'>
  /** The TURN URL, as the browser names it. */
  url: string
  /** The browser's `icecandidateerror.errorCode`: 701 unreachable, else the TURN server's STUN error code. */
  errorCode: number
  message: string
}

const isTurn = (url: string | null | undefined): url is string => /^turns?:/i.test(url ?? '')

/** The TURN server answered, and said no to our credentials (401 Unauthorized, 403 Forbidden). */
const refused = (errorCode: number) => errorCode === 401 || errorCode === 403

export class IceDiagnosis {
  private readonly turnUrls: string[]
  /** The last error per TURN URL. */
  private readonly errors = new Map<string, { errorCode: number; errorText: string }>()
  /** TURN URLs a relay candidate came from ('' when the browser does not say which: Firefox). */
  private readonly relayed = new Set<string>()
  private readonly warned = new Set<string>()
  private completed = false

  constructor(iceServers: readonly RTCIceServer[], private readonly warn: (warning: IceWarning) => void) {
    this.turnUrls = iceServers.flatMap((server) => (typeof server.urls === 'string' ? [server.urls] : [...(server.urls ?? [])])).filter(isTurn)
  }

  /** A local candidate was gathered; `url` is the STUN/TURN server it came from, when the browser says. */
  candidate(candidate: RTCIceCandidate, url: string | null | undefined): void {
    const type = candidate.type ?? / typ (\w+)/.exec(candidate.candidate)?.[1]
    if (type === 'relay') this.relayed.add(url ?? '')
  }

  /** An `icecandidateerror`: a STUN or TURN server failed (STUN failures cost no relay: ignored). */
  error(event: Pick<RTCPeerConnectionIceErrorEvent, 'url' | 'errorCode' | 'errorText'>): void {
    if (!isTurn(event.url)) return
    // Chromium reports an error per local interface, in no set order: a server that answered 401/403 from
    // one says more than an interface that could not reach it (701) from another, so a 701 never replaces it.
    const known = this.errors.get(event.url)
    if (known && refused(known.errorCode) && !refused(event.errorCode)) return
    this.errors.set(event.url, { errorCode: event.errorCode, errorText: event.errorText ?? '' })
  }

  /**
   * A gathering round ended: each TURN URL that failed and gave no relay candidate is reported once.
   * Not at the error itself: Chromium reports an error per local interface, and a URL that fails from one
   * interface may still give a relay candidate from another.
   */
  gatheringComplete(): void {
    this.completed = true
    this.flush()
  }

  /** Reports the failed TURN URLs not reported yet (also when the call ends before gathering does). */
  flush(): void {
    for (const [url, { errorCode, errorText }] of this.errors) {
      if (this.warned.has(url) || this.relayed.has(url)) continue
      this.warned.add(url)
      const code = refused(errorCode) ? 'relay_refused' : 'relay_unreachable'
      const why = code === 'relay_refused' ? 'refused the credentials' : 'could not be reached'
      const detail = [errorCode, errorText].filter(Boolean).join(' ')
      this.warn({ code, url, errorCode, message: `TURN server ${url} ${why}${detail ? ` (${detail})` : ''}` })
    }
  }

  /**
   * Why the call could not connect, from this side: no TURN URL at all → `no_relay`; a relay candidate
   * gathered (the relay worked, the checks still failed) → `ice_failed`; TURN answered 401/403 →
   * `relay_refused`; every TURN URL failed, or gathering ended without a relay candidate →
   * `relay_unreachable`; else (gathering still under way, nothing known) `ice_failed`.
   */
  cause(): FailureCause {
    if (this.turnUrls.length === 0) return 'no_relay'
    if (this.relayed.size > 0) return 'ice_failed'
    if ([...this.errors.values()].some((e) => refused(e.errorCode))) return 'relay_refused'
    if (this.completed || this.turnUrls.every((url) => this.errors.has(url))) return 'relay_unreachable'
    return 'ice_failed'
  }
}
