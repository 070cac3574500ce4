/**
 * Text a CLI prints on one line (an error, a file's line in read, verify, ls,
 * decode): a control character in it (a file named 'a\nb.shoebox' in a path)
 * is written as an escape, not as a second line or an escape sequence that
 * colours the terminal.
 */
export function oneLine (text: string): string {
  // Control characters are exactly what this looks for.
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}
