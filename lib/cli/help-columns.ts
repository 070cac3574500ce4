/**
 * A command's --help with its options in one column. The help texts are
 * put together from pieces several commands share (compress-options.ts,
 * store-options.ts, read-options.ts, meta/metadir-options.ts), each written
 * at its own column, so one command's options came out in two or three
 * (encode's --gzip at 24 under --format at 29; meta get's --records one
 * space off). Here every description in the list after "Options:" starts
 * two spaces past the longest flag of at most FLAG_FIT characters; a longer
 * flag (--fsync never|onClose|interval|always) has its description start on
 * the next line. The text before "Options:" is left as written. A flag and
 * its description are told apart by two spaces or more, so a help text
 * must never join them with one.
 */

const FLAG_FIT = 22

/** An option line: two spaces, the flag (single spaces inside), then two or more spaces and its description. */
const ENTRY = /^ {2}(-\S(?:\S| (?! ))*)(?: {2,}(\S.*))?$/

export function alignOptions (help: string): string {
  const mark = '\nOptions:\n'
  const at = help.indexOf(mark)
  if (at < 0) return help
  const entries: Array<{ flag: string, text: string[] }> = []
  for (const line of help.slice(at + mark.length).split('\n')) {
    const entry = ENTRY.exec(line)
    if (entry !== null) entries.push({ flag: entry[1], text: entry[2] === undefined ? [] : [entry[2]] })
    else if (entries.length > 0 && /^ {3,}\S/.test(line)) entries[entries.length - 1].text.push(line.trim())
    // Nothing else follows the options in any help; should it, it is not ours to reflow.
    else if (line !== '') return help
  }
  const width = Math.max(0, ...entries.map((e) => e.flag.length).filter((n) => n <= FLAG_FIT))
  const indent = ' '.repeat(2 + width + 2)
  const lines: string[] = []
  for (const { flag, text } of entries) {
    const [first, ...more] = text
    if (first === undefined) lines.push(`  ${flag}`)
    else if (flag.length <= width) lines.push(`  ${flag.padEnd(width)}  ${first}`)
    else lines.push(`  ${flag}`, indent + first)
    for (const line of more) lines.push(indent + line)
  }
  return help.slice(0, at + mark.length) + lines.join('\n') + (help.endsWith('\n') ? '\n' : '')
}
