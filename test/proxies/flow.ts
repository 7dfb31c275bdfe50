/**
 * The two-page call every middlebox test drives (as test/browser/call.test.ts does, through the demo page):
 * register both, alice calls, bob accepts by a click, both connected with live video, alice hangs up,
 * both see `hangup` and every track is released. Not a test file by itself.
 */
import type { Page } from 'playwright-core'
import type { Test } from 'tap'
import { captureTracks, capturedTrackStates, dial, elementState, remoteVideoState, rtcEvents, waitForRtcEvent } from '../helpers/browser.js'

export { dial, register, type Transport } from '../helpers/browser.js'

/** The transports the page reported (`rtc-transport`), in order. */
export async function transports(page: Page): Promise<string[]> {
  return (await rtcEvents(page, 'rtc-transport')).map((e) => e.detail.transport)
}

export async function transportInUse(page: Page): Promise<string | null> {
  return page.locator('rtc-call').evaluate((element: any) => element.transportInUse)
}

export interface CallHooks {
  /** After bob's page rings, before he accepts. */
  ringing?: () => Promise<void>
  /** After bob clicked Accept, before both are connected. */
  accepted?: () => Promise<void>
  /** Both connected with live video, before the hang-up. */
  inCall?: () => Promise<void>
  /** Replaces alice's click on Hang up (e.g. to hang up while bob's stream is down). */
  hangUp?: () => Promise<void>
}

/**
 * Alice (registered) calls bob (registered); asserts connected + live video both ways + clean hang-up.
 * Returns click→connected in ms (alice's Call click to her `rtc-connected`), also logged with t.comment.
 */
export async function callConnectHangUp(t: Test, alice: Page, bob: Page, bobName: string, label: string, hooks: CallHooks = {}) {
  const aliceName = (await alice.locator('rtc-call').evaluate((element: any) => element.name)) as string
  const callsBefore = (await rtcEvents(alice, 'rtc-connected')).length
  const bobCallsBefore = (await rtcEvents(bob, 'rtc-incoming')).length
  const bobConnectedBefore = (await rtcEvents(bob, 'rtc-connected')).length
  await dial(alice, bobName)
  const incoming = await waitForRtcEvent(bob, 'rtc-incoming', { after: bobCallsBefore })
  t.equal(incoming.detail.from, aliceName, 'bob sees who calls')
  await hooks.ringing?.()
  await bob.getByRole('button', { name: 'Accept', exact: true }).click()
  await hooks.accepted?.()
  const [connectedA, connectedB] = await Promise.all([
    waitForRtcEvent(alice, 'rtc-connected', { after: callsBefore }),
    waitForRtcEvent(bob, 'rtc-connected', { after: bobConnectedBefore }),
  ])
  const callId = incoming.detail.callId
  t.same(connectedA.detail, { callId, peer: bobName }, 'alice is connected to bob')
  t.same(connectedB.detail, { callId, peer: aliceName }, 'bob is connected to alice')
  const click = (await rtcEvents(alice, 'click', { detail: { text: 'Call' } })).at(-1)!
  const ms = Math.round(connectedA.t - click.t)
  t.comment(`click→connected, ${label}: ${ms} ms`)
  for (const [who, page] of [['alice', alice], ['bob', bob]] as const) {
    const video = await remoteVideoState(page)
    t.ok(video.framesDecoded, `${who} sees the other's video move`)
    t.ok(video.width > 0 && video.height > 0, `${who}'s remote video has a size (${video.width}x${video.height})`)
    t.equal(video.liveVideoTracks, 1, `${who}'s remoteStream has a live video track`)
  }
  t.equal(await elementState(alice), 'in-call')
  t.equal(await elementState(bob), 'in-call')
  await hooks.inCall?.()

  await captureTracks(alice)
  await captureTracks(bob)
  const endedBefore = (await rtcEvents(alice, 'rtc-ended')).length
  const bobEndedBefore = (await rtcEvents(bob, 'rtc-ended')).length
  if (hooks.hangUp) await hooks.hangUp()
  else await alice.getByRole('button', { name: 'Hang up', exact: true }).click()
  const [endedA, endedB] = await Promise.all([
    waitForRtcEvent(alice, 'rtc-ended', { after: endedBefore }),
    waitForRtcEvent(bob, 'rtc-ended', { after: bobEndedBefore }),
  ])
  t.same(endedA.detail, { callId, reason: 'hangup' }, 'alice hung up')
  t.same(endedB.detail, { callId, reason: 'hangup' }, 'bob sees the hang-up')
  t.ok((await capturedTrackStates(alice)).every((s) => s === 'ended'), 'alice’s camera, microphone and remote tracks are released')
  t.ok((await capturedTrackStates(bob)).every((s) => s === 'ended'), 'bob’s too')
  t.equal(await elementState(alice), 'registered')
  t.equal(await elementState(bob), 'registered')
  return ms
}
