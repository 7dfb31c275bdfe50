/**
 * The network sigpost exists for, built from Linux namespaces (test/helpers/netns.ts): a company office
 * whose only way out is an HTTP proxy, and the internet beyond it.
 *
 *   office (10.10.0.2)  ── lan ──  edge (10.10.0.1 │ 10.20.0.1)  ── wan ──  internet (10.20.0.2-4)
 *   caller's browser               squid :3128, Debian's rules            sigpost https://sigpost.test (.2)
 *   no route but the proxy,                                                coturn turns:turn.sigpost.test:443 (.3)
 *   UDP dropped (nftables)                                                 nginx SNI on .4:443 (shared.sigpost.test,
 *                                                                           turn-shared.sigpost.test), the callee
 *
 * Names resolve through /etc/netns/<ns>/hosts (bind-mounted over /etc/hosts by `ip netns exec`; squid reads
 * it too), and /etc/netns/<ns>/resolv.conf points at a nameserver that is not there (no DNS leaves a
 * namespace). TLS everywhere comes from a test CA that the browsers trust through their own NSS databases
 * (Chromium: $HOME/.pki/nssdb, so each Chromium gets its own HOME; Firefox: the profile's cert9.db).
 *
 * Browsers run inside a namespace through a wrapper script (`exec ip netns exec <ns> <browser> "$@"`):
 * Playwright drives Chromium over a pipe, which crosses namespaces; Firefox's WebDriver BiDi listens on
 * the namespace's own 127.0.0.1, so a Unix socket (which crosses network namespaces) bridges it to the same
 * port on the root namespace's loopback.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser } from 'playwright-core'
import type { Browser as FirefoxBrowser, PuppeteerNode } from 'puppeteer-core'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './browser.js'
import { FIREFOX_PATH, FIREFOX_PREFS } from './firefox.js'
import { addAddress, createNamespaces, link, readIfExists, startIn, type Namespaces, type NsProcess, type Teardown } from './netns.js'
import { freePort } from './redis.js'

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1'
process.env.PUPPETEER_SKIP_DOWNLOAD = '1'
const puppeteer = createRequire(import.meta.url)('puppeteer-core') as PuppeteerNode
const root = fileURLToPath(new URL('../..', import.meta.url))

export type Role = 'office' | 'edge' | 'internet'
const ROLES: readonly Role[] = ['office', 'edge', 'internet']

export const ADDRESS = {
  office: '10.10.0.2',
  proxy: '10.10.0.1',
  edgeWan: '10.20.0.1',
  sigpost: '10.20.0.2',
  turn: '10.20.0.3',
  shared: '10.20.0.4',
} as const

export const HOST = {
  proxy: 'proxy.office.test',
  sigpost: 'sigpost.test',
  turn: 'turn.sigpost.test',
  shared: 'shared.sigpost.test',
  sharedTurn: 'turn-shared.sigpost.test',
} as const

/** More sigpost instances at once (each on its own address and name, port 443 like the first). */
const SLOTS = [1, 2, 3]
const slotAddress = (slot: number) => `10.20.0.${10 + slot}`
const slotHost = (slot: number) => `s${slot}.sigpost.test`

export const PROXY_PORT = 3128
export const PROXY_URL = `http://${HOST.proxy}:${PROXY_PORT}`
export const TURN_SECRET = 'sigpost-corporate-turn-secret'
/** What an operator hands out: TLS on 443, by name. */
export const TURNS_443 = `turns:${HOST.turn}:443?transport=tcp`

export interface Sigpost {
  /** `https://sigpost.test` (or the shared variant's name). */
  url: string
  stop(): Promise<void>
  output(): string
}

export interface CorporateNet {
  ns: Namespaces<Role>
  /** The test CA (PEM), trusted by every browser the rig launches and by curl. */
  caFile: string
  squid: { accessLog(): string; process: NsProcess }
  coturn: { log(): string; process: NsProcess }
  /**
   * sigpost on https://sigpost.test:443 with these TURN settings (one at a time: it takes 10.20.0.2:443),
   * or with `slot` 1–3 on https://s<slot>.sigpost.test (10.20.0.1<slot>), so that several run at once.
   */
  sigpost(t: Teardown, env: { TURN_URLS: string; TURN_SECRET?: string }, slot?: number): Promise<Sigpost>
  /**
   * The one-address deployment: nginx (the docs' `stream` block) on 10.20.0.4:443 routes by SNI to sigpost
   * (127.0.0.1:8443) and to a second coturn (TLS on 127.0.0.1:5349), as docs/operations.md shows.
   */
  shared(t: Teardown, nginxStream: string): Promise<Sigpost & { nginxConfig: string; coturnLog(): string }>
  /** Chromium inside `role`; in the office with the proxy as a switch, or as enterprise policies. */
  chromium(t: Teardown, role: Role, options?: { proxy?: 'switch' | 'policy' }): Promise<Browser>
  /** Firefox ESR inside `role`, with `prefs` on top of the usual test prefs (in the office: the proxy prefs). */
  firefox(t: Teardown, role: Role, prefs?: Record<string, unknown>): Promise<FirefoxBrowser>
  /** Runs curl inside a namespace, trusting the test CA; returns stdout. */
  curl(role: Role, args: string[]): string
}

/** Writes a test CA and one server certificate for every name above; returns the file names. */
function certificates(dir: string) {
  const ca = join(dir, 'ca.pem')
  const caKey = join(dir, 'ca.key')
  const cert = join(dir, 'server.pem')
  const key = join(dir, 'server.key')
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  openssl('req', '-x509', ...ec, '-keyout', caKey, '-out', ca, '-days', '2', '-subj', '/CN=sigpost test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
  openssl('req', ...ec, '-keyout', key, '-out', join(dir, 'server.csr'), '-subj', `/CN=${HOST.sigpost}`)
  const names = [HOST.sigpost, HOST.turn, HOST.shared, HOST.sharedTurn, ...SLOTS.map(slotHost)].map((n) => `DNS:${n}`).join(',')
  writeFileSync(join(dir, 'server.ext'), `subjectAltName=${names}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`)
  openssl('x509', '-req', '-in', join(dir, 'server.csr'), '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', join(dir, 'server.ext'))
  return { ca, cert, key }
}

/** An NSS database in `folder` that trusts the test CA for TLS servers (how Chromium and Firefox trust a CA). */
function trustingNssDb(folder: string, ca: string): void {
  mkdirSync(folder, { recursive: true })
  execFileSync('certutil', ['-d', `sql:${folder}`, '-N', '--empty-password'], { stdio: 'pipe' })
  execFileSync('certutil', ['-d', `sql:${folder}`, '-A', '-t', 'C,,', '-n', 'sigpost test CA', '-i', ca], { stdio: 'pipe' })
}

function proxyUser(): { uid: number; gid: number } | undefined {
  const entry = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('proxy:'))
  if (!entry) return undefined
  const [uid, gid] = entry.split(':').slice(2, 4).map(Number)
  return { uid, gid }
}

function coturnArgs(dir: string, tls: { cert: string; key: string }, listen: string, port: number, relay: string, secret: string): string[] {
  return [
    '-n',
    `--listening-ip=${listen}`,
    `--tls-listening-port=${port}`,
    `--relay-ip=${relay}`,
    // TLS only: what a proxy that CONNECTs to 443 can reach.
    '--no-udp', '--no-tcp', '--no-dtls', '--no-cli',
    `--cert=${tls.cert}`, `--pkey=${tls.key}`,
    '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=sigpost.test',
    `--userdb=${join(dir, 'turndb')}`, `--pidfile=${join(dir, 'turnserver.pid')}`,
    `--log-file=${join(dir, 'turn.log')}`, '--simple-log', '--no-stdout-log', '--verbose',
  ]
}

/** Builds the three namespaces, the proxy and coturn; sigpost and the browsers start on demand. */
export async function startCorporateNet(t: Teardown): Promise<CorporateNet> {
  const ns = createNamespaces(t, ROLES)
  const { names, dir } = ns
  link(names, 'office', 'lan', `${ADDRESS.office}/24`, 'edge', 'lan', `${ADDRESS.proxy}/24`)
  link(names, 'edge', 'wan', `${ADDRESS.edgeWan}/24`, 'internet', 'wan', `${ADDRESS.sigpost}/24`)
  addAddress(names.internet, 'wan', `${ADDRESS.turn}/24`)
  addAddress(names.internet, 'wan', `${ADDRESS.shared}/24`)
  for (const slot of SLOTS) addAddress(names.internet, 'wan', `${slotAddress(slot)}/24`)
  // The edge is a proxy host, not a router: nothing is forwarded between its two links.
  ns.run('edge', 'sysctl', ['-qw', 'net.ipv4.ip_forward=0'])
  // The office: no default route (only its own /24, where the proxy is), and no UDP at all but loopback's.
  ns.run('office', 'nft', ['-f', '-'], `table inet office {
  chain output { type filter hook output priority filter; policy accept; oif "lo" accept; meta l4proto udp drop; }
  chain input { type filter hook input priority filter; policy accept; iif "lo" accept; meta l4proto udp drop; }
}
`)
  const internetNames = [
    `${ADDRESS.sigpost} ${HOST.sigpost}`,
    `${ADDRESS.turn} ${HOST.turn}`,
    `${ADDRESS.shared} ${HOST.shared} ${HOST.sharedTurn}`,
    ...SLOTS.map((slot) => `${slotAddress(slot)} ${slotHost(slot)}`),
  ]
  for (const role of ROLES) {
    // The office resolves internet names too (a company's DNS does), it just cannot reach them.
    ns.etc(role, 'hosts', ['127.0.0.1 localhost', `${ADDRESS.proxy} ${HOST.proxy}`, ...internetNames, ''].join('\n'))
    ns.etc(role, 'resolv.conf', 'nameserver 127.0.0.1\n')
  }
  const tls = certificates(dir)
  // squid drops to Debian's `proxy` user: it must reach its folder below this one.
  chmodSync(dir, 0o755)

  // squid: Debian's squid.conf with the one change every office makes (`http_access allow localnet`,
  // commented out in Debian's file) and its own port, pid and logs.
  const squidDir = join(dir, 'squid')
  mkdirSync(squidDir)
  const squidConf = readFileSync('/etc/squid/squid.conf', 'utf8')
    .split('\n')
    .map((line) => {
      if (/^http_port\s/.test(line)) return `http_port ${ADDRESS.proxy}:${PROXY_PORT}`
      if (/^#\s*http_access allow localnet\s*$/.test(line)) return 'http_access allow localnet'
      if (/^coredump_dir\s/.test(line)) return `coredump_dir ${squidDir}`
      return line
    })
  if (!squidConf.includes('http_access allow localnet')) throw new Error('Debian squid.conf without a `#http_access allow localnet` line')
  squidConf.push(`pid_filename ${squidDir}/squid.pid`, `cache_log ${squidDir}/cache.log`, `access_log stdio:${squidDir}/access.log squid`,
    'netdb_filename none', 'pinger_enable off', 'shutdown_lifetime 0 seconds', '')
  writeFileSync(join(squidDir, 'squid.conf'), squidConf.join('\n'))
  const user = proxyUser()
  if (user) chownSync(squidDir, user.uid, user.gid)
  const squid = await startIn(t, names.edge, 'squid', ['-N', '-f', join(squidDir, 'squid.conf')], {
    listen: `${ADDRESS.proxy}:${PROXY_PORT}`,
    logs: () => readIfExists(join(squidDir, 'cache.log')),
  })

  const coturnDir = join(dir, 'coturn')
  mkdirSync(coturnDir)
  const coturn = await startIn(t, names.internet, 'turnserver', coturnArgs(coturnDir, tls, ADDRESS.turn, 443, ADDRESS.turn, TURN_SECRET), {
    listen: `${ADDRESS.turn}:443`,
    logs: () => readIfExists(join(coturnDir, 'turn.log')),
  })

  const startSigpost = async (t: Teardown, host: string, port: number, env: Record<string, string>): Promise<NsProcess> =>
    startIn(t, names.internet, process.execPath, ['dist/server/main.js'], {
      cwd: root,
      env: {
        ...process.env,
        HOST: host,
        PORT: String(port),
        TLS_CERT_FILE: tls.cert,
        TLS_KEY_FILE: tls.key,
        STUN_URLS: '',
        LOG_LEVEL: 'warn',
        ...env,
      },
      listen: `${host}:${port}`,
    })

  let homes = 0
  const launchChromium = async (t: Teardown, role: Role, options: { proxy?: 'switch' | 'policy' } = {}): Promise<Browser> => {
    const home = join(dir, `chromium-${role}-${++homes}`)
    trustingNssDb(join(home, '.pki', 'nssdb'), tls.ca)
    const wrapper = join(home, 'chromium.sh')
    let exec = `exec ip netns exec '${names[role]}' '${CHROMIUM_PATH}' "$@"`
    if (options.proxy === 'policy') {
      // Enterprise policies are read from /etc/chromium/policies, which is global: `ip netns exec` gives
      // this process its own mount namespace, where a folder of our own is bind-mounted over /etc/chromium
      // for this Chromium only.
      const etc = join(home, 'etc-chromium')
      mkdirSync(join(etc, 'policies', 'managed'), { recursive: true })
      if (existsSync('/etc/chromium/master_preferences')) writeFileSync(join(etc, 'master_preferences'), readFileSync('/etc/chromium/master_preferences'))
      writeFileSync(join(etc, 'policies', 'managed', 'sigpost-test.json'), JSON.stringify({
        ProxyMode: 'fixed_servers',
        ProxyServer: `${HOST.proxy}:${PROXY_PORT}`,
        WebRtcIPHandling: 'disable_non_proxied_udp',
      }, null, 2))
      exec = `exec ip netns exec '${names[role]}' sh -c 'mount --bind "$0" /etc/chromium && exec "${CHROMIUM_PATH}" "$@"' '${etc}' "$@"`
    }
    writeFileSync(wrapper, `#!/bin/sh\n# Chromium inside ${names[role]}, with its own HOME (its NSS database trusts the test CA).\nexport HOME='${home}'\n${exec}\n`)
    chmodSync(wrapper, 0o755)
    const args = [...CHROMIUM_ARGS, `--user-data-dir=${join(home, 'profile')}`, '--remote-debugging-pipe', '--no-startup-window']
    if (options.proxy === 'switch') args.push(`--proxy-server=${PROXY_URL}`)
    const browser = await chromium.launch({ executablePath: wrapper, headless: true, ignoreDefaultArgs: true, args, timeout: 60_000 })
    t.teardown(() => browser.close().catch(() => {}))
    return browser
  }

  const launchFirefox = async (t: Teardown, role: Role, prefs: Record<string, unknown> = {}): Promise<FirefoxBrowser> => {
    const home = join(dir, `firefox-${role}-${++homes}`)
    const profile = join(home, 'profile')
    trustingNssDb(profile, tls.ca)
    const port = await freePort()
    // The bridge: root 127.0.0.1:port → Unix socket → the namespace's 127.0.0.1:port (Firefox's BiDi).
    const socket = join(home, 'bidi.sock')
    const forwarder = join(home, 'forward.mjs')
    writeFileSync(forwarder, `import net from 'node:net'
const [socket, port] = process.argv.slice(2)
net.createServer((client) => {
  const upstream = net.connect(Number(port), '127.0.0.1')
  client.pipe(upstream).pipe(client)
  client.on('error', () => upstream.destroy())
  upstream.on('error', () => client.destroy())
}).listen(socket)
`)
    const inside = await startIn(t, names[role], process.execPath, [forwarder, socket, String(port)])
    for (const guard = Date.now() + 10_000; !existsSync(socket); ) {
      if (Date.now() > guard) throw new Error(`the BiDi bridge did not start: ${inside.output()}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const bridged = new Set<net.Socket>()
    const outside = net.createServer((client) => {
      const upstream = net.connect(socket)
      bridged.add(client)
      client.on('close', () => bridged.delete(client))
      client.pipe(upstream).pipe(client)
      client.on('error', () => upstream.destroy())
      upstream.on('error', () => client.destroy())
    })
    await new Promise<void>((resolve) => outside.listen(port, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => { for (const client of bridged) client.destroy(); outside.close(() => resolve()) }))
    const wrapper = join(home, 'firefox.sh')
    writeFileSync(wrapper, `#!/bin/sh\nexport HOME='${home}'\nexec ip netns exec '${names[role]}' '${FIREFOX_PATH}' "$@"\n`)
    chmodSync(wrapper, 0o755)
    const browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: wrapper,
      protocol: 'webDriverBiDi',
      headless: true,
      userDataDir: profile,
      debuggingPort: port,
      extraPrefsFirefox: { ...FIREFOX_PREFS, ...prefs },
      timeout: 60_000,
    })
    t.teardown(() => browser.close().catch(() => {}))
    return browser
  }

  return {
    ns,
    caFile: tls.ca,
    squid: { accessLog: () => readIfExists(join(squidDir, 'access.log')), process: squid },
    coturn: { log: () => readIfExists(join(coturnDir, 'turn.log')), process: coturn },
    async sigpost(t, env, slot) {
      const server = await startSigpost(t, slot ? slotAddress(slot) : ADDRESS.sigpost, 443, { TURN_SECRET, ...env })
      return { url: `https://${slot ? slotHost(slot) : HOST.sigpost}`, stop: server.stop, output: server.output }
    },
    async shared(t, nginxStream) {
      const sharedDir = mkdtempSync(join(dir, 'shared-'))
      await startIn(t, names.internet, 'turnserver', coturnArgs(sharedDir, tls, '127.0.0.1', 5349, ADDRESS.shared, TURN_SECRET), {
        listen: '127.0.0.1:5349',
        logs: () => readIfExists(join(sharedDir, 'turn.log')),
      })
      const server = await startSigpost(t, '127.0.0.1', 8443, { TURN_SECRET, TURN_URLS: `turns:${HOST.sharedTurn}:443?transport=tcp` })
      const nginxConfig = `load_module /usr/lib/nginx/modules/ngx_stream_module.so;
master_process off;
error_log ${sharedDir}/error.log info;
pid ${sharedDir}/nginx.pid;
events { worker_connections 1024; }
${nginxStream.replaceAll('turn.example.com', HOST.sharedTurn).replace(/listen\s+443;/, `listen ${ADDRESS.shared}:443;`)}
`
      writeFileSync(join(sharedDir, 'nginx.conf'), nginxConfig)
      await startIn(t, names.internet, 'nginx', ['-p', sharedDir, '-e', join(sharedDir, 'error.log'), '-c', join(sharedDir, 'nginx.conf'), '-g', 'daemon off;'], {
        listen: `${ADDRESS.shared}:443`,
        logs: () => readIfExists(join(sharedDir, 'error.log')),
      })
      return {
        url: `https://${HOST.shared}`,
        stop: server.stop,
        output: server.output,
        nginxConfig,
        coturnLog: () => readIfExists(join(sharedDir, 'turn.log')),
      }
    },
    chromium: launchChromium,
    firefox: launchFirefox,
    curl: (role, args) => ns.run(role, 'curl', ['--silent', '--show-error', '--cacert', tls.ca, ...args]),
  }
}

/** Firefox's prefs for the office proxy (the manual proxy settings a company would roll out). */
export const FIREFOX_PROXY_PREFS = {
  'network.proxy.type': 1,
  'network.proxy.http': HOST.proxy,
  'network.proxy.http_port': PROXY_PORT,
  'network.proxy.ssl': HOST.proxy,
  'network.proxy.ssl_port': PROXY_PORT,
  'network.proxy.no_proxies_on': '',
}
