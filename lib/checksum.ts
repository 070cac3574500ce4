/**
 * CRC32 (ISO-HDLC, as zlib and gzip) and CRC32C (Castagnoli). zlib.crc32 is
 * native from Node 20.15; older Nodes and CRC32C use a slicing-by-8 table in JS.
 */
import zlib from 'node:zlib'

export type ChecksumAlgorithm = 'crc32' | 'crc32c'

type Crc = (data: Uint8Array) => number

function makeTables (poly: number): Uint32Array[] {
  const tables: Uint32Array[] = []
  const t0 = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (poly ^ (c >>> 1)) : (c >>> 1)
    t0[n] = c >>> 0
  }
  tables.push(t0)
  for (let t = 1; t < 8; t++) {
    const prev = tables[t - 1]
    const next = new Uint32Array(256)
    for (let n = 0; n < 256; n++) next[n] = (prev[n] >>> 8) ^ t0[prev[n] & 0xff]
    tables.push(next)
  }
  return tables
}

/** A table-driven CRC with a reflected polynomial (exported for tests). */
export function tableCrc (poly: number): Crc {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = makeTables(poly)
  return (data: Uint8Array): number => {
    let crc = 0xffffffff
    let i = 0
    const end8 = data.length - 8
    for (; i <= end8; i += 8) {
      const a = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) ^ crc
      crc = t7[a & 0xff] ^ t6[(a >>> 8) & 0xff] ^ t5[(a >>> 16) & 0xff] ^ t4[a >>> 24] ^
        t3[data[i + 4]] ^ t2[data[i + 5]] ^ t1[data[i + 6]] ^ t0[data[i + 7]]
    }
    for (; i < data.length; i++) crc = t0[(crc ^ data[i]) & 0xff] ^ (crc >>> 8)
    return (crc ^ 0xffffffff) >>> 0
  }
}

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32

export const crc32: Crc = typeof nativeCrc32 === 'function'
  ? (data) => nativeCrc32(data)
  : tableCrc(0xedb88320)

export const crc32c: Crc = tableCrc(0x82f63b78)

export function checksumFor (algorithm: ChecksumAlgorithm): Crc {
  return algorithm === 'crc32' ? crc32 : crc32c
}
