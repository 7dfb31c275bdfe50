// proxy-addr ships no types (it comes with Fastify); sigpost uses only compile().
declare module 'proxy-addr' {
  /** A function telling whether the address at hop `i` is trusted. */
  type Trust = (address: string, i: number) => boolean
  const proxyAddr: { compile(trusted: string | string[]): Trust }
  export default proxyAddr
}
