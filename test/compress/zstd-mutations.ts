/**
 * Hostile zstd input for the fuzz tests (zstd-fuzz.test.ts: a frame at a
 * time; zstd-stream-fuzz.test.ts: the streaming decoder): real frames
 * (ours, the package's, the `zstd` command's with and without a content
 * size or checksum) and hand-made ones (raw and RLE blocks, lying
 * Frame_Content_Size, dictionary ids, huge windows, blocks over 128 KiB,
 * skippable and several frames), and seeded mutations of them (bit flips,
 * byte changes, cuts, inserts, splices, truncations). Everything random
 * draws from one seeded source, so a seed gives the same cases everywhere.
 */
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import type { Test } from 'tap'
import { loadZstd, type ZstdBackend } from '../../lib/compress/zstd.js'
import { walkFrames } from '../../lib/compress/zstd-frame.js'
import { seededText } from '../helpers.js'

const MAGIC = [0x28, 0xb5, 0x2f, 0xfd]
export const FRAME_MAGIC = Buffer.from(MAGIC)

/** A frame header: Frame_Content_Size `fcs` (its field as small as it goes), single-segment or `window`, a Dictionary_ID, a checksum flag. */
export function header (o: { fcs?: number, single?: boolean, window?: number, dictId?: number, checksum?: boolean }): Buffer {
  const single = o.single === true && o.fcs !== undefined
  let flag = 0
  let field = Buffer.alloc(0)
  if (o.fcs !== undefined) {
    if (single && o.fcs < 256) field = Buffer.from([o.fcs])
    else if (o.fcs >= 256 && o.fcs < 65792) { flag = 1; field = Buffer.alloc(2); field.writeUInt16LE(o.fcs - 256) } else if (o.fcs < 2 ** 32) { flag = 2; field = Buffer.alloc(4); field.writeUInt32LE(o.fcs) } else { flag = 3; field = Buffer.alloc(8); field.writeBigUInt64LE(BigInt(o.fcs)) }
  }
  const dict = o.dictId === undefined ? Buffer.alloc(0) : Buffer.alloc(4)
  if (o.dictId !== undefined) dict.writeUInt32LE(o.dictId)
  const fhd = flag << 6 | (single ? 0x20 : 0) | (o.checksum === true ? 0x04 : 0) | (o.dictId === undefined ? 0 : 3)
  return Buffer.concat([Buffer.from([...MAGIC, fhd]), single ? Buffer.alloc(0) : Buffer.from([o.window ?? 0x58]), dict, field])
}

/** A block: 0 raw (its `size` bytes follow), 1 RLE (one byte follows), 3 reserved. */
export function block (type: number, size: number, last: boolean): Buffer {
  const h = size << 3 | type << 1 | (last ? 1 : 0)
  const body = type === 1 ? Buffer.from([0x62]) : Buffer.alloc(type === 0 ? size : 4, 0x61)
  return Buffer.concat([Buffer.from([h & 0xff, h >> 8 & 0xff, h >> 16 & 0xff]), body])
}

/** The Frame_Content_Size of each frame the walker finds whole (null: none), and why it stopped. */
export function contentSizes (input: Buffer): { sizes: Array<number | null>, problem: string | null } {
  const { frames, problem } = walkFrames(input)
  const sizes = frames.filter((f) => !f.skippable).map((f) => {
    const fhd = input[f.start + 4]
    const single = (fhd & 0x20) !== 0
    const fcsSize = fhd >> 6 === 0 ? (single ? 1 : 0) : 1 << (fhd >> 6)
    if (fcsSize === 0) return null
    const at = f.start + 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3]
    const raw = fcsSize === 8 ? Number(input.readBigUInt64LE(at)) : input.readUIntLE(at, fcsSize)
    return raw + (fcsSize === 2 ? 256 : 0)
  })
  return { sizes, problem }
}

/** The walker stops at a raw or RLE block over its frame's block maximum (or zstd's 128 KiB). */
export function oversized (input: Buffer): boolean {
  return /^block at compressed byte \d+ claims \d+ bytes, over/.test(contentSizes(input).problem ?? '')
}

export async function backends (): Promise<{ libzstd: ZstdBackend, pkg: ZstdBackend }> {
  return { libzstd: await loadZstd('libzstd') as ZstdBackend, pkg: await loadZstd('package') as ZstdBackend }
}

export interface ZstdMutations {
  random: () => number
  pick: <T>(list: T[]) => T
  /** 300 KB of NDJSON lines the seeds compress. */
  lines: Buffer
  skippable: (n: number) => Buffer
  /** The real and hand-made inputs (frames by the `zstd` command too where it is installed; testdirs of `t`). */
  seeds: (t: Test) => Promise<Buffer[]>
  /** `from` with 1 to 4 mutations, one of them maybe a splice of another of `all`; now and then truncated. */
  mutate: (from: Buffer, all: Buffer[]) => Buffer
}

/** The generators, all drawing from one source seeded with `seed`. */
export function zstdMutations (seed: number): ZstdMutations {
  const { random, lines: textLines } = seededText(seed)
  const pick = <T>(list: T[]): T => list[random() % list.length]
  const lines = textLines(300_000, ' é✓')

  function skippable (n: number): Buffer {
    const b = Buffer.alloc(8 + n, 0x7a)
    b.writeUInt32LE(0x184d2a50 + random() % 16, 0)
    b.writeUInt32LE(n, 4)
    return b
  }

  async function seeds (t: Test): Promise<Buffer[]> {
    const { libzstd, pkg } = await backends()
    const out: Buffer[] = []
    for (const size of [0, 1, 900, 70_000, 300_000]) {
      out.push(await libzstd.compress(lines.subarray(0, size), 1), await pkg.compress(lines.subarray(0, size), 3))
    }
    try {
      const dir = t.testdir({ small: lines.subarray(0, 2000), lines, zeros: Buffer.alloc(300_000) })
      for (const file of ['small', 'lines', 'zeros']) {
        for (const flags of [[], ['--no-content-size'], ['--no-check'], ['--no-content-size', '--no-check'], ['--long=27']]) {
          out.push(execFileSync('zstd', ['-q', '-c', '-3', ...flags, path.join(dir, file)]))
        }
      }
    } catch {
      // No zstd command here: the other seeds still run.
    }
    out.push(skippable(0), skippable(10), Buffer.concat([skippable(5), out[0], skippable(3), out[2]]), Buffer.concat([out[2], out[4], out[3]]))
    for (const fcs of [undefined, 0, 1, 255, 256, 1000, 131_072, 131_073, 2 ** 32 - 1, 2 ** 32, 2 ** 40]) {
      for (const blocks of [[[1, 10, true]], [[0, 10, true]], [[1, 131_072, false], [1, 5, true]], [[1, 131_073, true]], [[0, 131_073, true]], [[1, 2 ** 21 - 1, true]], [[1, 0, true]], [[0, 0, true]], [[1, 1000, false], [0, 1000, true]]] as Array<Array<[number, number, boolean]>>) {
        out.push(Buffer.concat([header({ fcs, single: random() % 2 === 0 }), ...blocks.map(([type, size, last]) => block(type, size, last))]))
      }
    }
    for (const window of [0x00, 0x08, 0x58, 0x88, 0xa8, 0xf8, 0xff]) out.push(Buffer.concat([header({ window }), block(1, 100, false), block(0, 2000, true)]))
    for (const dictId of [1, 12345, 0xffffffff]) out.push(Buffer.concat([header({ dictId }), block(0, 10, true)]))
    out.push(Buffer.concat([header({ checksum: true }), block(0, 10, true), Buffer.from([1, 2, 3, 4])]))
    out.push(Buffer.concat([header({}), block(3, 10, true)]))
    return out
  }

  function mutate (from: Buffer, all: Buffer[]): Buffer {
    let b = Buffer.from(from)
    for (let n = 1 + random() % 4; n > 0; n--) {
      if (b.length === 0) { b = Buffer.from([random() & 0xff]); continue }
      const at = random() % b.length
      switch (random() % 8) {
        case 0: b[at] ^= 1 << random() % 8; break
        case 1: b[at] = random() & 0xff; break
        case 2: b = b.subarray(0, at); break
        case 3: b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + random() % 16)]); break
        case 4: b = Buffer.concat([b.subarray(0, at), Buffer.from([random() & 0xff, random() & 0xff]), b.subarray(at)]); break
        case 5: b = Buffer.concat([b, pick(all)]); break
        case 6: b = Buffer.concat([b.subarray(0, at), pick(all).subarray(random() % 30)]); break
        default: b[Math.min(at, 4 + random() % 14)] = pick([0, 0xff, 0x80, 0x7f, 0x20, 0x40, 0xc0, random() & 0xff]) // the frame header
      }
    }
    return random() % 8 === 0 ? b.subarray(0, random() % (b.length + 1)) : b
  }

  return { random, pick, lines, skippable, seeds, mutate }
}
