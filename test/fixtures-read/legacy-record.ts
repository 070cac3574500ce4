/**
 * Legacy (v1) records laid out byte for byte as the original shoebox writes
 * them (../shared/specs/shoebox-v1.md §2), with any pairs, repeated keys and
 * bytes that are not UTF-8 included; and the original reader's view of an
 * archive (§3), to check what it would read back.
 */
export type Text = string | Buffer

/** One version-1 record as the original writer lays it out: count 4n, all lengths, then the strings; payload block. */
export function v1Record (pairs: Array<[Text, Text]>, payload: Buffer): Buffer {
  const strings = pairs.flat().map((s) => typeof s === 'string' ? Buffer.from(s, 'utf8') : s)
  const table = Buffer.alloc(4 + 4 * strings.length)
  table.writeInt32LE(4 * pairs.length, 0)
  strings.forEach((s, i) => table.writeInt32LE(s.length, 4 + 4 * i))
  const metadata = Buffer.concat([table, ...strings])
  const header = Buffer.alloc(18)
  header.writeUInt32LE(0x69867884, 0)
  header.writeInt16LE(1, 4)
  header.writeInt32LE(metadata.length, 6)
  header.writeInt32LE(4 + payload.length, 10)
  header.writeInt32LE(0, 14)
  const payloadLength = Buffer.alloc(4)
  payloadLength.writeInt32LE(payload.length, 0)
  return Buffer.concat([header, metadata, payloadLength, payload])
}

/** The original reader (spec §3), record by record: its dict, as sorted [key hex, value hex] pairs. */
export function originalReads (archive: Buffer): string[][][] {
  const dicts: string[][][] = []
  for (let at = 0; at < archive.length;) {
    const M = archive.readInt32LE(at + 6)
    const P = archive.readInt32LE(at + 10)
    const block = at + 18
    const lengths = Math.floor(archive.readInt32LE(block) / 2)
    let pos = block + 4 + 4 * lengths
    const dict = new Map<string, string>()
    for (let i = 0; i < lengths; i += 2) {
      const k = archive.readInt32LE(block + 4 + 4 * i)
      const v = archive.readInt32LE(block + 8 + 4 * i)
      dict.set(archive.toString('hex', pos, pos + k), archive.toString('hex', pos + k, pos + k + v))
      pos += k + v
    }
    dicts.push([...dict].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    at += 18 + M + P
  }
  return dicts
}
