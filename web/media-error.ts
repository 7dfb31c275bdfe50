/**
 * Why a camera or microphone cannot be used, in terms a person can act on: which device (`audio`,
 * `video`) and why — `denied` (the user did not allow it), `blocked` (the browser's site settings, the
 * system or the embedding page's permissions policy refuse it), `missing` (no such device), `in_use`
 * (another app holds it, or it would not start), `unavailable` (no getUserMedia here: not https).
 * The DOMException's name stays in the message (a detail for developers); the element shows sentences.
 * https://w3c.github.io/mediacapture-main/#dom-mediadevices-getusermedia (the errors getUserMedia rejects with)
 */
import { SignalError } from './signal/http.js'

export type MediaKind = 'audio' | 'video'
export type MediaFailure = 'denied' | 'blocked' | 'missing' | 'in_use' | 'unavailable'

/** `media_denied` with which devices failed and why. */
export class MediaError extends SignalError {
  constructor(
    /** The devices that cannot be used (the others asked for can be). */
    readonly kinds: MediaKind[],
    readonly why: MediaFailure,
    detail: string,
  ) {
    super('media_denied', detail)
  }
}

type Constraint = boolean | MediaTrackConstraints

const PERMISSION: Record<MediaKind, string> = { audio: 'microphone', video: 'camera' }

/** `denied` when the browser answers a permission query for it with `denied` (site settings), else unknown. */
async function blockedBySettings(kind: MediaKind): Promise<boolean> {
  try {
    const status = await navigator.permissions?.query({ name: PERMISSION[kind] as PermissionName })
    return status?.state === 'denied'
  } catch {
    return false // Firefox before 131 knows no `camera` permission name
  }
}

async function classify(error: unknown, kind: MediaKind): Promise<MediaFailure> {
  const name = (error as Error)?.name ?? ''
  switch (name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
      // A prompt the user dismissed or answered "Block" once leaves `prompt`; a site setting (or an earlier
      // permanent "Block") says `denied`: then only the site settings can change it.
      return (await blockedBySettings(kind)) || /system|policy/i.test((error as Error).message ?? '') ? 'blocked' : 'denied'
    case 'SecurityError':
      return 'blocked' // the page's Permissions-Policy (an <iframe> without allow="camera; microphone")
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return 'missing'
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return 'in_use'
    default:
      return 'in_use'
  }
}

/** A getUserMedia failure of one device as a MediaError (which and why). */
export async function toMediaError(error: unknown, kind: MediaKind): Promise<MediaError> {
  const why = await classify(error, kind)
  return new MediaError([kind], why, `Cannot use the ${PERMISSION[kind]}: ${(error as Error)?.name ?? 'Error'} ${(error as Error)?.message ?? ''}`.trim())
}

async function tryOpen(constraints: MediaStreamConstraints): Promise<MediaStream | unknown> {
  try {
    return await navigator.mediaDevices.getUserMedia(constraints)
  } catch (error) {
    return error
  }
}

/**
 * Opens the microphone (`audio`) and camera (`video`) asked for. When that fails, each is tried on its
 * own to find out which one cannot be used, and why: a MediaError naming it (the other device is
 * released again; the caller decides whether to go on without the failing one).
 */
export async function openUserMedia(audio: Constraint, video: Constraint): Promise<MediaStream> {
  if (typeof navigator.mediaDevices?.getUserMedia !== 'function') {
    const kinds = (['audio', 'video'] as const).filter((kind) => (kind === 'audio' ? audio : video))
    throw new MediaError(kinds, 'unavailable', 'navigator.mediaDevices is undefined (not a secure context?)')
  }
  const first = await tryOpen({ audio, video })
  if (first instanceof MediaStream) return first
  const asked: [MediaKind, Constraint][] = ([['audio', audio], ['video', video]] as [MediaKind, Constraint][]).filter(([, c]) => c)
  const failures: { kind: MediaKind; error: unknown }[] = []
  if (asked.length === 1) failures.push({ kind: asked[0][0], error: first })
  else {
    for (const [kind, constraint] of asked) {
      const alone = await tryOpen({ [kind]: constraint })
      if (alone instanceof MediaStream) for (const track of alone.getTracks()) track.stop()
      else failures.push({ kind, error: alone })
    }
    // Each works alone but not both together (a flaky driver): blame the first error on both.
    if (failures.length === 0) failures.push(...asked.map(([kind]) => ({ kind, error: first })))
  }
  const why = await classify(failures[0].error, failures[0].kind)
  const detail = failures.map(({ kind, error }) => `${PERMISSION[kind]}: ${(error as Error)?.name ?? 'Error'} ${(error as Error)?.message ?? ''}`.trim()).join('; ')
  throw new MediaError(failures.map((f) => f.kind), why, `Cannot use the ${detail}`)
}
