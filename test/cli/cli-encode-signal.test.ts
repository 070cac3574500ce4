/**
 * SIGINT or SIGTERM during `shoebox encode` with stdin still open: the output
 * ends after a whole record (and, compressed, as a complete stream), holding
 * every line read in order; exit 1 with one line saying how many records were
 * written. Killed by the signal, the output ended wherever the encoder or the
 * compressor was.
 */
import { spawn } from 'node:child_process'
import zlib from 'node:zlib'
import t from 'tap'
import { BIN } from '../cli-run.js'
import { decodeRecords } from '../helpers.js'

for (const [signal, args] of [['SIGINT', []], ['SIGTERM', ['--gzip']]] as const) {
  t.test(`${signal} during encode ${args.join(' ')}: the output ends at a record boundary, exit 1 saying how many`, async (t) => {
    const child = spawn(process.execPath, [...process.execArgv, BIN, 'encode', ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    child.stdin.on('error', () => {}) // the child stops reading at the signal
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (code, sig) => { resolve([code, sig]) }))
    const count = 200_000
    // A last line without its newline: stdin stays open, so the signal finds it cut.
    child.stdin.write(Array.from({ length: count }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(50) }) + '\n').join('') + '{"cut":')
    // Output has come out: the encoder is under way (still mid-input, or waiting for more).
    const deadline = Date.now() + 60_000
    while (out.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
    t.ok(out.length > 0, 'output before the signal')
    child.kill(signal)
    const [code, sig] = await exited
    t.equal(sig, null, 'exited, not killed by the signal')
    t.equal(code, 1, stderr)
    const output = Buffer.concat(out)
    const archive = args.length > 0 ? zlib.gunzipSync(output) : output // a truncated gzip stream throws
    const records = await decodeRecords(archive)
    const got = records.map((r) => (JSON.parse(r.payload.toString()) as { i: number }).i)
    t.same(got, Array.from({ length: got.length }, (_, i) => i), 'whole records: the lines read, in order')
    t.ok(got.length > 0, 'records were written')
    t.match(stderr, new RegExp(`^shoebox encode: interrupted by ${signal}; ${got.length} records? written(, an incomplete last line \\(\\d+ bytes?\\) not encoded)?, the rest of stdin was not read\\n$`))
  })
}
