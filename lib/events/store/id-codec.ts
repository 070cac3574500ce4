// TEMPORARY until the events core lands: replaced by ../event-id.js.
export function formatIdBytes (id: Buffer): string {
  const h = id.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
export function parseIdBytes (text: string): Buffer {
  return Buffer.from(text.replace(/-/g, ''), 'hex')
}
