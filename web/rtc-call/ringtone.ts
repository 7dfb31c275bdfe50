/**
 * A ringing tone made with Web Audio (no audio file to host): two mixed sines, 0.4 s on, 0.2 s off,
 * 0.4 s on, then 2 s of silence, as long as it rings. Browsers only start audio after a user gesture on the
 * page; without one the context stays `suspended` and the ring is silent (the UI still shows the call).
 */
export class Ringtone {
  private context: AudioContext | undefined
  private timer: ReturnType<typeof setInterval> | undefined

  get playing(): boolean {
    return this.context !== undefined
  }

  start(): void {
    if (this.context || typeof AudioContext === 'undefined') return
    const context = new AudioContext()
    this.context = context
    const gain = context.createGain()
    gain.gain.value = 0
    gain.connect(context.destination)
    for (const frequency of [440, 480]) {
      const oscillator = context.createOscillator()
      oscillator.frequency.value = frequency
      oscillator.connect(gain)
      oscillator.start()
    }
    const ring = () => {
      const t = context.currentTime
      const level = gain.gain
      level.setValueAtTime(0.12, t)
      level.setValueAtTime(0, t + 0.4)
      level.setValueAtTime(0.12, t + 0.6)
      level.setValueAtTime(0, t + 1)
    }
    void context.resume().catch(() => {})
    ring()
    this.timer = setInterval(ring, 3000)
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    const context = this.context
    this.context = undefined
    void context?.close().catch(() => {})
  }
}
