import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { cliBinary } from '../fixtures-s3/cli-build.js'
import { decodeRecords } from '../helpers.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-signal-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal} during write seals the current file and exits 0`, async (t) => {
    const dir = path.join(tmp, signal)
    const child = spawn(process.execPath, [cliBinary(), 'write', dir, '--flush-interval', '50ms'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    const lines = Array.from({ length: 100 }, (_, i) => JSON.stringify({ i })).join('\n') + '\n'
    child.stdin.write(lines)
    // stdin stays open, as with a live producer; wait until the lines reached a (temporary) file.
    const deadline = Date.now() + 60_000
    const written = (): boolean => fs.existsSync(dir) && fs.readdirSync(dir).some((n) => n.endsWith('.part') && fs.statSync(path.join(dir, n)).size > 0)
    while (!written() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    t.ok(written(), 'the records reached a temporary file')
    child.kill(signal)
    t.equal(await exited, 0, 'exit 0')
    const names = fs.readdirSync(dir)
    t.same(names.filter((n) => n.endsWith('.part')), [], 'no temporary file left')
    const sealed = names.filter((n) => n.endsWith('.shoebox'))
    t.equal(sealed.length, 1, 'one sealed file')
    const records = await decodeRecords(fs.readFileSync(path.join(dir, sealed[0])))
    t.same(records.map((r) => JSON.parse(r.payload.toString()) as unknown), Array.from({ length: 100 }, (_, i) => ({ i })))
    t.match(stderr, new RegExp(`^shoebox write: 100 records, 1 file sealed, .* into .*; stopped by ${signal}: 100 records sealed, the rest of stdin was not read\n$`))
  })
}

t.test('SIGINT while the sink holds stdin back: every line read is sealed, in order, and the line says how many', async (t) => {
  // Files rolled every 2000 records and fsynced on every write keep the sink behind stdin, so that at the signal
  // lines wait in the stages before it. stdin used to be destroyed at once, which destroyed the gate with those
  // lines in it: the write failed with "Premature close" and the unsealed file's records were left to recovery.
  const dir = path.join(tmp, 'held-back')
  const child = spawn(process.execPath, [cliBinary(), 'write', dir, '--flush-interval', '10ms', '--fsync', 'always', '--roll-records', '2000'], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  child.stdin.on('error', () => {}) // the child stops reading at the signal
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  const count = 100_000
  child.stdin.write(Array.from({ length: count }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(100) }) + '\n').join(''))
  const deadline = Date.now() + 60_000
  const sealedNames = (): string[] => fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.shoebox')).sort() : []
  while (sealedNames().length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  t.ok(sealedNames().length > 0, 'a file was sealed before the signal')
  child.kill('SIGINT')
  t.equal(await exited, 0, stderr)
  t.same(fs.readdirSync(dir).filter((n) => !n.endsWith('.shoebox')), [], 'no temporary file left')
  const payloads: number[] = []
  for (const name of sealedNames()) {
    for (const r of await decodeRecords(fs.readFileSync(path.join(dir, name)))) payloads.push((JSON.parse(r.payload.toString()) as { i: number }).i)
  }
  t.ok(payloads.length < count, 'stopped before the end of stdin')
  t.same(payloads, Array.from({ length: payloads.length }, (_, i) => i), 'the sealed records are the lines read, in order, none missing')
  t.match(stderr, new RegExp(`^shoebox write: ${payloads.length} records, .* stopped by SIGINT: ${payloads.length} records sealed(, the line being read when SIGINT came \\(\\d+ bytes? of it read\\) not stored)?, the rest of stdin was not read\n$`))
})
