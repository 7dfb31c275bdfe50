/**
 * Security headers, decided per kind of answer (issue 23: helmet's two hooks and its headers on every API
 * answer were 7–10 % of the server's busy time while it relayed candidates):
 *
 * - Pages, scripts, /docs and the operations endpoints get @fastify/helmet's set with three changes: no
 *   Content-Security-Policy by default (swagger-ui at /docs brings its own scripts), no
 *   `Cross-Origin-Resource-Policy: same-origin` (`/rtc-call.js` is loaded as a module by other sites' pages,
 *   with CORS), and no HSTS (demos run on plain-HTTP localhost; an operator with TLS in front adds it
 *   there). That leaves `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
 *   `X-Frame-Options: SAMEORIGIN` and the rest of helmet's defaults.
 * - The API (`/v1`) answers JSON or an event stream, never a document: framing, opener, referrer and
 *   DNS-prefetch policies do nothing there. What does matter is that a browser never sniffs an answer's
 *   body into something else (a script, a stylesheet, HTML): every API answer *with a body* gets
 *   `X-Content-Type-Options: nosniff` (the event stream too). A 202 or 204 has no body to sniff, and is
 *   the answer to every relayed candidate: it gets none. Error answers, wherever they come from (the
 *   error and 404 handlers), get nosniff and `Referrer-Policy: no-referrer`.
 *
 * The HTML pages of the web root get a Content-Security-Policy. Their inline scripts are allowed by hash,
 * computed from the files themselves (recomputed when a file changes), so the policy follows the page
 * without anyone copying hashes by hand.
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import helmet from '@fastify/helmet'

export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: false,
    crossOriginResourcePolicy: false,
    crossOriginEmbedderPolicy: false,
    strictTransportSecurity: false,
    referrerPolicy: { policy: 'no-referrer' },
  })
}

/** The headers every error answer carries (errors.ts), whichever context it comes from. */
export const ERROR_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' } as const

/** The API's policy (see above): nosniff on every answer with a body, one synchronous onSend hook. */
export function addApiHeaders(api: FastifyInstance): void {
  api.addHook('onSend', (_request, reply, payload, done) => {
    if (payload !== undefined && payload !== null && payload !== '') reply.header('x-content-type-options', 'nosniff')
    done(null, payload)
  })
}

const INLINE_SCRIPT = /<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi

/** `'sha256-…'` sources for every inline script of an HTML text (the text a browser hashes). */
export function inlineScriptHashes(html: string): string[] {
  const hashes: string[] = []
  for (const [, attributes, body] of html.matchAll(INLINE_SCRIPT)) {
    if (/\bsrc\s*=/i.test(attributes) || body === '') continue
    // A browser's HTML parser turns CR LF and lone CR into LF before the script text exists.
    const text = body.replace(/\r\n?/g, '\n')
    hashes.push(`'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`)
  }
  return hashes
}

/** The demo page's policy: its own scripts (the bundle and the hashed inline ones), its own API. */
export function demoPagePolicy(scriptHashes: string[]): string {
  return [
    "default-src 'self'",
    `script-src 'self' ${[...new Set(scriptHashes)].join(' ')}`.trim(),
    // The page's style attributes, and Lit's <style> fallback where adoptedStyleSheets is missing.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'self'",
  ].join('; ')
}

/**
 * The CSP of the web root's HTML pages, one policy for all of them; read again when a page's file
 * changes (a rebuild while the server runs), so it never lags the page it protects.
 */
export class WebRootPolicy {
  private key = ''
  private policy = demoPagePolicy([])

  constructor(private readonly root: string) {}

  current(): string {
    let pages: Array<{ path: string; mtimeMs: number }>
    try {
      pages = readdirSync(this.root).filter((name) => name.endsWith('.html')).map((name) => {
        const path = join(this.root, name)
        return { path, mtimeMs: statSync(path).mtimeMs }
      })
    } catch {
      return this.policy
    }
    const key = pages.map((page) => `${page.path}:${page.mtimeMs}`).join('|')
    if (key !== this.key) {
      this.policy = demoPagePolicy(pages.flatMap((page) => inlineScriptHashes(readFileSync(page.path, 'utf8'))))
      this.key = key
    }
    return this.policy
  }
}

/** Adds the web root's CSP to the HTML responses of `web` (the encapsulated context serving the root). */
export function addWebRootPolicy(web: FastifyInstance, root: string): void {
  const policy = new WebRootPolicy(root)
  web.addHook('onSend', (_request, reply, payload, done) => {
    const type = reply.getHeader('content-type')
    if (typeof type === 'string' && type.startsWith('text/html')) reply.header('content-security-policy', policy.current())
    done(null, payload)
  })
}
