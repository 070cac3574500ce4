/**
 * `shoebox write DIR < big.ndjson.zst`, where `zstd` wrote the whole input
 * as one frame of over 256 MiB: streamed through zstd's window
 * (lib/compress/zstd-stream.ts), it is read whole without --max-frame-size
 * and in bounded memory, as `zstd -dc big.ndjson.zst | shoebox write DIR`
 * is. (A frame at a time, it was refused as over maxFrameSize; raised, the
 * frame and its content were held whole: ~570 MB of RSS for 200 MB.)
 */
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { cliBinary, cliEnv } from '../fixtures-s3/cli-build.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-zstd-input-memory-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })
// The input streams through the addon's decoder, which this test measures: cliBinary()'s tree has the native part
// linked beside it (without it, Node 24 aside, zstd input is read a frame at a time, this frame refused as over
// maxFrameSize).
const bin = cliBinary()

/** 300 MiB of 1 KiB lines: over DEFAULT_MAX_FRAME_SIZE (256 MiB) in one frame, a few hundred KB compressed. */
const CONTENT = 300 * 1024 * 1024
const LINE = `{"a":"${'x'.repeat(1015)}"}`
const LINES = CONTENT / (LINE.length + 1)

/**
 * What the write may peak at. Its own pipeline holds a few MiB: zstd's window
 * (512 KiB at -1), a 1 MiB piece, the line splitter's batches, the sink's
 * flush blocks; Node's heap and code are the rest. Measured: 108 MB from
 * dist/, as much as `zstd -dc big.zst | shoebox write` (134 MB here, where
 * the CLI is transpiled); a frame at a time with --max-frame-size 400MiB,
 * 762 MB. Under the frame's 300 MiB of content, with room for another heap.
 */
const MAX_RSS_MB = 250

t.test('write < one zstd frame of 300 MiB from the zstd command: every line stored, no --max-frame-size, in bounded memory', async (t) => {
  const input = path.join(tmp, 'big.ndjson.zst')
  const made = spawnSync('sh', ['-c', `yes '${LINE}' | head -c ${CONTENT} | zstd -1 -q -c > '${input}'`])
  t.equal(made.status, 0, made.stderr.toString())
  t.ok(fs.statSync(input).size < 4 * 1024 * 1024, `${fs.statSync(input).size} bytes compressed`)
  const dir = path.join(tmp, 'out')
  const fd = fs.openSync(input, 'r')
  const { code, stderr } = await new Promise<{ code: number | null, stderr: string }>((resolve, reject) => {
    // GNU time reports the child's peak RSS (its VmHWM) in KB on stderr's last line.
    const child = spawn('/usr/bin/time', ['-f', 'peak-rss-kb %M', process.execPath, bin, 'write', dir, '--zstd'], { stdio: [fd, 'ignore', 'pipe'], env: cliEnv() })
    const err: Buffer[] = []
    child.stderr?.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', (exit) => { resolve({ code: exit, stderr: Buffer.concat(err).toString('utf8') }) })
  })
  fs.closeSync(fd)
  t.equal(code, 0, stderr)
  const records = /shoebox write: (\d+) records/.exec(stderr)
  t.equal(Number(records?.[1]), LINES, `every line a record: ${stderr}`)
  const peak = Number(/peak-rss-kb (\d+)/.exec(stderr)?.[1]) / 1024
  t.ok(peak > 0 && peak < MAX_RSS_MB, `peak RSS ${peak.toFixed(0)} MB, under ${MAX_RSS_MB} MB`)
})
