/**
 * The key every per-address limit counts a client by (connections, registrations, sessions, the refusal
 * budget): an IPv4 address as it is (also when a dual-stack listener reports it as `::ffff:a.b.c.d`), an
 * IPv6 address by its /64. One IPv6 subscriber, a home or a cloud VM, is routinely given a whole /64: keyed
 * by the full address, a single host could spend 2^64 buckets. A /64 is still one site, as an IPv4
 * address behind a NAT is (docs/operations.md "Sizing behind a NAT or a proxy").
 */

/** `2001:db8:1:2:aaaa::1` → `2001:db8:1:2::/64`; `::ffff:192.0.2.1` and `192.0.2.1` → `192.0.2.1`. */
export function addressKey(address: string): string {
  if (!address.includes(':')) return address
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7)
  return `${prefix64(address)}::/64`
}

/** The first four groups of an IPv6 address, in their short form (`2001:db8:0:2`). */
function prefix64(address: string): string {
  const plain = address.split('%', 1)[0].toLowerCase()
  const gap = plain.indexOf('::')
  let groups: string[]
  if (gap === -1) {
    groups = plain.split(':')
  } else {
    const left = gap === 0 ? [] : plain.slice(0, gap).split(':')
    const right = plain.slice(gap + 2) === '' ? [] : plain.slice(gap + 2).split(':')
    // An embedded IPv4 address (`64:ff9b::192.0.2.1`) takes the room of two groups.
    const rightGroups = right.length + (right.at(-1)?.includes('.') ? 1 : 0)
    groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - rightGroups)).fill('0'), ...right]
  }
  return groups.slice(0, 4).map((group) => (parseInt(group, 16) || 0).toString(16)).join(':')
}

/** Whether `address` (an IP address, as `server.address()` gives it, or `localhost`) is reachable only from this host. */
export function isLoopback(address: string): boolean {
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address
  return plain === '::1' || plain === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(plain)
}
