/** HTTP/2 requests for the tests of sigpost over TLS: one request with a JSON answer, as a client sees it. */
import type http2 from 'node:http2'

export interface H2Answer {
  status: number
  body: any
  /** The stream's reset code when the server reset it (no answer then: status 0 or the head's). */
  rstCode?: number
}

/** One HTTP/2 request; resolves with the status and the JSON body, or with the reset code (never rejects). */
export function h2(session: http2.ClientHttp2Session, method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<H2Answer> {
  return new Promise((resolve) => {
    const req = session.request({
      ':method': method,
      ':path': path,
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    })
    let status = 0
    let text = ''
    req.on('response', (headers) => (status = Number(headers[':status'])))
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (text += chunk))
    req.on('end', () => resolve({ status, body: text ? JSON.parse(text) : undefined }))
    req.on('error', () => resolve({ status, body: undefined, rstCode: req.rstCode }))
    req.end(options.body ? JSON.stringify(options.body) : undefined)
  })
}
