/**
 * Real middleboxes between a browser and sigpost, each started by a test as a child process on a free
 * loopback port, with its own config and temp dir, and stopped by PID on teardown:
 *
 * - `startNginx`: a reverse proxy (one or several upstreams, round-robin), with nginx's default buffering
 *   or buffering of every response, and an optional `proxy_read_timeout` (idle cut-off).
 * - `startSquid`: a forward proxy with Debian's default squid.conf, changed only to run unprivileged on
 *   its own port, with its own pid/log/coredump paths; optionally a company's own rules on top
 *   (`companyPolicy`: a refused path, proxy authentication).
 * - `fetchViaProxy`: a `fetch` for Node that sends each request to a forward proxy, as a browser does.
 * - `startCoturn`: a TURN server with the TURN REST API shared secret, TCP only.
 * - `startCutter`: a small TCP proxy (Node) that cuts stream responses after a lifetime, on demand, and
 *   can hold a peer's connections ("the network is down") until released.
 *
 * None of them depends on a system service: the packages only need to be installed (scripts/test.sh).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { freePort, waitForPort } from './redis.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

/** A middlebox process: where it listens, its temp dir and a way to read its logs. */
export interface Middlebox {
  port: number
  /** `http://127.0.0.1:<port>` */
  url: string
  dir: string
  process: ChildProcess
  /** Stops the process by PID (SIGTERM, SIGKILL if it lingers) and removes its temp dir. */
  stop(): Promise<void>
}

/** Spawns `command`, waits until `port` accepts connections, and registers the stop on teardown. */
async function startProcess(
  t: Teardown,
  dir: string,
  port: number,
  command: string,
  args: string[],
  options: { uid?: number; gid?: number; logs: () => string },
): Promise<Omit<Middlebox, 'url' | 'port' | 'dir'>> {
  const child = spawn(command, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], uid: options.uid, gid: options.gid })
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  // If the test process dies, do not leave the middlebox running.
  // (An 'exit' handler runs synchronously: kill by PID and remove the folder with rmSync.)
  const onExit = () => {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', onExit)
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    process.removeListener('exit', onExit)
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const lingering = setTimeout(() => child.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(lingering)
    }
    rmSync(dir, { recursive: true, force: true })
  }
  t.teardown(stop)
  try {
    await waitForPort(port, exited, () => `${output}\n${options.logs()}`)
  } catch (error) {
    await stop()
    throw error
  }
  return { process: child, stop }
}

const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '')

// ---- nginx --------------------------------------------------------------------------------------------

export interface NginxOptions {
  /** `host:port` (or `http://host:port`) of each sigpost instance; several are balanced round-robin (nginx's default). */
  upstreams: string[]
  /**
   * `default`: nginx's defaults (`proxy_buffering on`, which honours the upstream's `X-Accel-Buffering: no`).
   * `all`: every response is buffered whatever the upstream says, as some hosted proxies do.
   */
  buffering?: 'default' | 'all'
  /** `proxy_read_timeout` in seconds: nginx closes a response whose upstream is silent this long. */
  readTimeoutS?: number
  /** More directives for the `location /` block. */
  extra?: string
}

export interface Nginx extends Middlebox {
  /** The nginx.conf written for this instance. */
  config: string
  accessLog(): string
  errorLog(): string
}

/**
 * A plain reverse proxy: `proxy_pass` with nginx's defaults (HTTP/1.0 to the upstream, no Upgrade headers,
 * buffering on, 60 s read time-out) unless options say otherwise.
 */
export async function startNginx(t: Teardown, options: NginxOptions): Promise<Nginx> {
  if (options.upstreams.length === 0) throw new Error('startNginx needs at least one upstream')
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'sigpost-nginx-'))
  const location = [
    'proxy_pass http://sigpost;',
    ...(options.buffering === 'all' ? ['proxy_buffering on;', 'proxy_ignore_headers X-Accel-Buffering;'] : []),
    ...(options.readTimeoutS !== undefined ? [`proxy_read_timeout ${options.readTimeoutS}s;`] : []),
    ...(options.extra ? [options.extra] : []),
  ]
  const config = `# One process: stopping it by PID stops everything (no orphaned workers holding the port).
master_process off;
error_log ${dir}/error.log info;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream sigpost {
${options.upstreams.map((u) => `    server ${u.replace(/^http:\/\//, '').replace(/\/+$/, '')};`).join('\n')}
  }
  server {
    listen 127.0.0.1:${port};
    location / {
${location.map((line) => `      ${line}`).join('\n')}
    }
  }
}
`
  const file = join(dir, 'nginx.conf')
  writeFileSync(file, config)
  const errorLog = join(dir, 'error.log')
  const started = await startProcess(t, dir, port, 'nginx', ['-p', dir, '-e', errorLog, '-c', file, '-g', 'daemon off;'], {
    logs: () => read(errorLog),
  })
  return {
    ...started,
    port,
    url: `http://127.0.0.1:${port}`,
    dir,
    config,
    accessLog: () => read(join(dir, 'access.log')),
    errorLog: () => read(errorLog),
  }
}

// ---- squid --------------------------------------------------------------------------------------------

export interface Squid extends Middlebox {
  /** The squid.conf written for this instance (Debian's, with the changes listed in startSquid). */
  config: string
  /** squid's access log (a line per finished request: `... TCP_MISS/200 ... GET http://... `). */
  accessLog(): string
  cacheLog(): string
}

/**
 * Debian's /etc/squid/squid.conf as the base, changed only to run here: `http_port` on a free loopback
 * port instead of 3128, and pid file, logs and coredump dir in a temp dir. Its access rules stay as they
 * are (localhost may use the proxy; CONNECT only to port 443). Runs in the foreground (`-N`: one process,
 * no kid) as the `proxy` user when the test runs as root.
 */
export async function startSquid(t: Teardown, options: { base?: string; companyPolicy?: boolean } = {}): Promise<Squid> {
  const base = readFileSync(options.base ?? '/etc/squid/squid.conf', 'utf8')
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'sigpost-squid-'))
  let replacedPort = false
  const lines = base.split('\n').flatMap((line) => {
    // A company's own rules go where Debian's squid.conf asks for them: before `allow localhost`.
    if (options.companyPolicy && /^http_access allow localhost\s*$/.test(line)) return [...companyPolicy(dir), line]
    return [line]
  }).map((line) => {
    if (/^http_port\s/.test(line)) {
      replacedPort = true
      return `http_port 127.0.0.1:${port}`
    }
    if (/^coredump_dir\s/.test(line)) return `coredump_dir ${dir}`
    return line
  })
  if (!replacedPort) lines.push(`http_port 127.0.0.1:${port}`)
  const config = [
    ...lines,
    '# sigpost test: its own files, no system paths',
    `pid_filename ${dir}/squid.pid`,
    `cache_log ${dir}/cache.log`,
    `access_log stdio:${dir}/access.log squid`,
    'netdb_filename none',
    // The ICMP pinger is a setuid helper process: useless unprivileged, and one more process to stop.
    'pinger_enable off',
    'shutdown_lifetime 0 seconds',
    '',
  ].join('\n')
  const file = join(dir, 'squid.conf')
  writeFileSync(file, config)
  // Unprivileged: as root, run as Debian's `proxy` user (which owns nothing else here).
  let uid: number | undefined
  let gid: number | undefined
  if (userInfo().uid === 0) {
    const entry = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('proxy:'))
    if (entry) {
      ;[uid, gid] = entry.split(':').slice(2, 4).map(Number)
      chownSync(dir, uid, gid)
    }
  }
  const cacheLog = join(dir, 'cache.log')
  const started = await startProcess(t, dir, port, 'squid', ['-N', '-f', file], { uid, gid, logs: () => read(cacheLog) })
  return {
    ...started,
    port,
    url: `http://127.0.0.1:${port}`,
    dir,
    config,
    accessLog: () => read(join(dir, 'access.log')),
    cacheLog: () => read(cacheLog),
  }
}

/**
 * A company's rules on top of Debian's (which already refuse every port outside Safe_ports with 403):
 * sigpost's API at `localhost` (not at 127.0.0.1) needs a proxy login (squid's 407, Basic, with a user
 * nobody has), and registering (`POST /v1/sessions`) is refused everywhere (squid's own HTML 403,
 * ERR_ACCESS_DENIED), while pages and every other request pass. Host names are matched as written (`-n`:
 * no reverse lookup), so squid decides before any lookup.
 */
function companyPolicy(dir: string): string[] {
  writeFileSync(join(dir, 'passwd'), '')
  return [
    '# sigpost test: a company policy',
    `auth_param basic program /usr/lib/squid/basic_ncsa_auth ${dir}/passwd`,
    'auth_param basic realm sigpost-test-proxy',
    'acl proxy_users proxy_auth REQUIRED',
    'acl sigpost_api urlpath_regex ^/v1/',
    'acl login_zone dstdomain -n localhost',
    'http_access deny login_zone sigpost_api !proxy_users',
    'acl registration urlpath_regex ^/v1/sessions$',
    'acl posting method POST',
    'http_access deny registration posting',
  ]
}

/**
 * A `fetch` for Node that sends every request to the forward proxy at `proxyUrl` in absolute form
 * (`GET http://host:port/path`), as a browser configured with that proxy does for `http:` URLs, and
 * answers with whatever comes back — the proxy's own answers included. No connection is kept alive.
 */
export function fetchViaProxy(proxyUrl: string): typeof fetch {
  const proxy = new URL(proxyUrl)
  return ((input: string | URL | Request, init: RequestInit = {}) => new Promise<Response>((resolve, reject) => {
    const target = new URL(String(input instanceof Request ? input.url : input))
    const request = http.request({
      host: proxy.hostname,
      port: proxy.port,
      method: init.method ?? 'GET',
      path: target.href,
      headers: { ...(init.headers as Record<string, string> | undefined), host: target.host },
      agent: false,
    }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('error', () => reject(new TypeError('fetch failed')))
      response.on('end', () => {
        const headers = new Headers()
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value)
        }
        const status = response.statusCode ?? 502
        resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers }))
      })
    })
    request.on('error', () => reject(new TypeError('fetch failed')))
    init.signal?.addEventListener('abort', () => request.destroy(new Error('aborted')), { once: true })
    request.end(typeof init.body === 'string' ? init.body : undefined)
  })) as typeof fetch
}

// ---- coturn -------------------------------------------------------------------------------------------

export interface Coturn extends Middlebox {
  secret: string
  realm: string
  /** `turn:127.0.0.1:<port>?transport=tcp` */
  turnUrl: string
  log(): string
}

/**
 * coturn with TURN REST API credentials (`--use-auth-secret --static-auth-secret`), listening on TCP only
 * (no UDP, DTLS or TLS listeners: a network that blocks UDP reaches it over TCP), relaying on loopback.
 */
export async function startCoturn(t: Teardown, options: { secret: string; realm?: string }): Promise<Coturn> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'sigpost-coturn-'))
  const realm = options.realm ?? 'sigpost.test'
  const logFile = join(dir, 'turn.log')
  const args = [
    '-n', // no config file
    '--listening-ip=127.0.0.1',
    `--listening-port=${port}`,
    '--relay-ip=127.0.0.1',
    '--allow-loopback-peers',
    '--no-udp',
    '--no-dtls',
    '--no-tls',
    '--no-cli',
    '--use-auth-secret',
    `--static-auth-secret=${options.secret}`,
    `--realm=${realm}`,
    `--userdb=${join(dir, 'turndb')}`,
    `--pidfile=${join(dir, 'turnserver.pid')}`,
    `--log-file=${logFile}`,
    '--simple-log',
    '--no-stdout-log',
    '--verbose',
  ]
  const started = await startProcess(t, dir, port, 'turnserver', args, { logs: () => read(logFile) })
  return {
    ...started,
    port,
    url: `turn:127.0.0.1:${port}`,
    dir,
    secret: options.secret,
    realm,
    turnUrl: `turn:127.0.0.1:${port}?transport=tcp`,
    log: () => read(logFile),
  }
}

// ---- a cutting TCP proxy ------------------------------------------------------------------------------

/** One request seen by the cutter (the request line of each HTTP/1.1 request on a connection). */
export interface CutterRequest {
  method: string
  path: string
  /** ms since the cutter started */
  at: number
  /** Whether this request's connection was cut while it was the current request. */
  cut: boolean
}

export interface Cutter {
  port: number
  url: string
  requests: CutterRequest[]
  /** Stream requests (`/v1/events`, `/v1/poll`) cut so far. */
  cuts(): CutterRequest[]
  /** Cuts every connection whose current request is a stream now; returns how many. */
  cutStreams(): number
  /** Cuts every connection and holds new ones (accepted, not forwarded) until `release()`. */
  hold(): void
  /** How many connections are held now. */
  held(): number
  release(): void
  stop(): Promise<void>
}

const STREAM_PATH = /^\/v1\/(events|poll)\b/
const REQUEST_LINE = /^(GET|POST|PUT|PATCH|DELETE|OPTIONS|HEAD) (\S+) HTTP\/1\.[01]\r\n/

/**
 * A TCP proxy in front of `target` (`host:port`) that behaves like a middlebox with a maximum response
 * time: a stream request (SSE or long-poll) is cut `streamLifetimeMs` after it started; other requests
 * are never cut by the timer (a real proxy cuts them too, but a POST cut in flight is a different test).
 * It reads only request lines (client → server), so it works for keep-alive connections.
 */
export async function startCutter(t: Teardown, target: string, options: { streamLifetimeMs?: number } = {}): Promise<Cutter> {
  const [host, portText] = target.split(':')
  const started = Date.now()
  const requests: CutterRequest[] = []
  const live = new Set<{ socket: net.Socket; upstream?: net.Socket; current?: CutterRequest }>()
  const waiting: Array<() => void> = []
  let holding = false

  const cut = (conn: { socket: net.Socket; upstream?: net.Socket; current?: CutterRequest }) => {
    if (conn.current) conn.current.cut = true
    conn.socket.destroy()
    conn.upstream?.destroy()
    live.delete(conn)
  }

  const server = net.createServer((socket) => {
    const conn: { socket: net.Socket; upstream?: net.Socket; current?: CutterRequest } = { socket }
    live.add(conn)
    socket.on('error', () => {})
    socket.on('close', () => {
      conn.upstream?.destroy()
      live.delete(conn)
    })
    socket.pause()
    const forward = () => {
      if (socket.destroyed) return
      const upstream = net.connect(Number(portText), host)
      conn.upstream = upstream
      upstream.on('error', () => socket.destroy())
      upstream.on('close', () => socket.destroy())
      upstream.on('data', (chunk) => socket.write(chunk))
      socket.on('data', (chunk: Buffer) => {
        const match = REQUEST_LINE.exec(chunk.subarray(0, 2048).toString('latin1'))
        if (match) {
          const request: CutterRequest = { method: match[1], path: match[2], at: Date.now() - started, cut: false }
          requests.push(request)
          conn.current = request
          if (options.streamLifetimeMs !== undefined && STREAM_PATH.test(request.path)) {
            setTimeout(() => {
              if (conn.current === request && live.has(conn)) cut(conn)
            }, options.streamLifetimeMs).unref()
          }
        }
        upstream.write(chunk)
      })
      socket.resume()
    }
    if (holding) waiting.push(forward)
    else forward()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port

  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    for (const conn of [...live]) cut(conn)
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t.teardown(stop)
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    cuts: () => requests.filter((r) => r.cut && STREAM_PATH.test(r.path)),
    cutStreams() {
      let n = 0
      for (const conn of [...live]) {
        if (conn.current && STREAM_PATH.test(conn.current.path)) {
          cut(conn)
          n++
        }
      }
      return n
    },
    hold() {
      holding = true
      for (const conn of [...live]) cut(conn)
    },
    held: () => waiting.length,
    release() {
      holding = false
      for (const forward of waiting.splice(0)) forward()
    },
    stop,
  }
}
