/**
 * Short-string UTF-8 decoding. Metadata strings are short and mostly ASCII; a
 * native toString() call costs ~100 ns of fixed overhead, a JS loop over a
 * dozen ASCII bytes much less. Anything non-ASCII or long goes native.
 */
const SHORT = 32

export function utf8 (buf: Buffer, start: number, end: number): string {
  const n = end - start
  if (n === 0) return ''
  if (n > SHORT) return buf.toString('utf8', start, end)
  let s = ''
  for (let i = start; i < end; i++) {
    const c = buf[i]
    if (c > 0x7f) return buf.toString('utf8', start, end)
    s += String.fromCharCode(c)
  }
  return s
}
