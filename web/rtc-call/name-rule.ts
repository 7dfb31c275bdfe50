// The name rule (docs/http-api.md "Names"), checked in the browser so that a bad name is caught, and said in a sentence, before it is sent.
import { SignalError } from '../signal-client.js'

/** 1–64 characters of A–Z a–z 0–9 . _ -, starting with a letter or digit (the server's schema and JWT check). */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** `invalid_name` unless `name` follows the rule (`what` says which field, for the message's detail). */
export function checkName(name: string, what: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new SignalError('invalid_name', `${what} "${name}" does not match ${NAME_PATTERN.source}`)
  }
}
