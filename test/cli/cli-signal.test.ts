import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { BIN } from '../cli-run.js'
import { decodeRecords } from '../helpers.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-signal-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal} during write seals the current file and exits 0`, async (t) => {
    const dir = path.join(tmp, signal)
    const child = spawn(process.execPath, [...process.execArgv, BIN, 'write', dir, '--flush-interval', '50ms'], { stdio: ['pipe', 'pipe', 'pipe'] })
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
    t.match(stderr, /shoebox write: 100 records, 1 file sealed/)
  })
}
