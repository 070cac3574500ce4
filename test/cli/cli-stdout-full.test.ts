/**
 * stdout that cannot be written (a full disk under `> out.ndjson`,
 * /dev/full, an I/O error): the commands printing line by line (ls, verify,
 * upload) never looked at their writes, and a command's last writes, still
 * queued when it returned (decode, read), failed after it; bin.ts took
 * every such error but EPIPE in silence, so the output was cut and the exit
 * was 0. Now the run fails with one line naming stdout, exit 1.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import t from 'tap'
import { encodeRecords } from '../../lib/format/encoder.js'
import { main } from '../../lib/cli/main.js'
import { cli } from '../cli-run.js'
import { cliBinary } from '../fixtures-s3/cli-build.js'
import { tempDir } from '../temp-dir.js'

const dir = tempDir(t, 'shoebox-stdout-full-')
const archive = path.join(dir, 'a.shoebox')
const records = Array.from({ length: 2000 }, (_, i) => ({ metadata: { i: String(i) }, payload: `{"n":${i},"pad":"${'x'.repeat(100)}"}` }))
fs.writeFileSync(archive, encodeRecords(records))

const FULL = '/dev/full'
const haveFull = fs.existsSync(FULL)

async function runToFull (args: string[]): Promise<{ code: number | null, stderr: string }> {
  const fd = fs.openSync(FULL, 'w')
  try {
    const child = spawn(process.execPath, [cliBinary(), ...args], { stdio: ['ignore', fd, 'pipe'], cwd: dir })
    let stderr = ''
    child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    return { code, stderr }
  } finally {
    fs.closeSync(fd)
  }
}

for (const args of [['ls', 'a.shoebox'], ['verify', 'a.shoebox'], ['decode', 'a.shoebox'], ['read', 'a.shoebox']]) {
  t.test(`${args[0]} > /dev/full: one line naming stdout, exit 1`, { skip: haveFull ? false : 'no /dev/full' }, async (t) => {
    const r = await runToFull(args)
    t.equal(r.code, 1)
    t.equal(r.stderr, `shoebox ${args[0]}: cannot write stdout: no space left on device (ENOSPC); the output is incomplete\n`)
  })
}

/** A stdout that takes `room` bytes, then fails every write, its callback a turn later (as a full file does). */
function fillingStdout (room: number): Writable {
  let taken = 0
  return new Writable({
    write (chunk: Buffer, _encoding, callback) {
      if (taken + chunk.length > room) {
        setImmediate(() => { callback(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })) })
        return
      }
      taken += chunk.length
      setImmediate(callback)
    }
  })
}

for (const command of ['decode', 'read', 'ls', 'verify']) {
  t.test(`${command} into a stdout that fills up: exit 1, the line names stdout`, async (t) => {
    const stdout = fillingStdout(command === 'ls' || command === 'verify' ? 10 : 64 * 1024)
    const err: Buffer[] = []
    const code = await main([command, archive], {
      stdin: Readable.from([]),
      stdout,
      stderr: new Writable({ write (chunk: Buffer, _encoding, callback) { err.push(chunk); callback() } })
    })
    t.equal(code, 1)
    t.equal(Buffer.concat(err).toString(), `shoebox ${command}: cannot write stdout: no space left on device (ENOSPC); the output is incomplete\n`)
  })
}

t.test('meta query into a stdout that fills up: exit 1, the line names stdout (it waited for a drain that never came, and exited 0)', async (t) => {
  const base = path.join(dir, 'metadir')
  fs.mkdirSync(path.join(base, '_mmmeta'), { recursive: true })
  fs.writeFileSync(path.join(base, '_mmmeta', 'config.yml'), 'metadata:\n  unique: uid\n')
  const rows = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ uid: String(i), pad: 'y'.repeat(100) }) + '\n').join('')
  const generated = await cli(['meta', 'generate', '--metadir', base, '--ndjson', '-'], rows)
  t.equal(generated.code, 0)
  t.equal((await cli(['meta', 'update', '--metadir', base])).code, 0)
  const err: Buffer[] = []
  const code = await main(['meta', 'query', '--metadir', base], {
    stdin: Readable.from([]),
    stdout: fillingStdout(100 * 1024),
    stderr: new Writable({ write (chunk: Buffer, _encoding, callback) { err.push(chunk); callback() } })
  })
  t.equal(code, 1)
  t.equal(Buffer.concat(err).toString(), 'shoebox meta query: cannot write stdout: no space left on device (ENOSPC); the output is incomplete\n')
})
