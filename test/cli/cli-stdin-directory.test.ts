/**
 * Standard input that is a directory (`shoebox decode < archives/`, a
 * careless redirect): Node reads it as empty, so encode wrote an empty
 * archive, decode printed nothing, and both exited 0. Now the first read
 * fails with one line naming stdin, as a named directory does.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { cliBinary } from '../fixtures-s3/cli-build.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-stdin-dir-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

async function runWithDirectoryStdin (args: string[]): Promise<{ code: number | null, stdout: Buffer, stderr: string }> {
  const fd = fs.openSync(tmp, 'r')
  try {
    const child = spawn(process.execPath, [cliBinary(), ...args], { stdio: [fd, 'pipe', 'pipe'], cwd: tmp })
    const out: Buffer[] = []
    let stderr = ''
    child.stdout?.on('data', (b: Buffer) => out.push(b))
    child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    return { code, stdout: Buffer.concat(out), stderr }
  } finally {
    fs.closeSync(fd)
  }
}

for (const command of ['encode', 'decode']) {
  t.test(`${command} < DIR: one line, exit 1, nothing on stdout`, async (t) => {
    const r = await runWithDirectoryStdin([command])
    t.equal(r.code, 1)
    t.equal(r.stderr, `shoebox ${command}: cannot read stdin: is a directory\n`)
    t.equal(r.stdout.length, 0)
  })
}

t.test('write DIR < DIR: fails naming stdin, seals nothing, creates no DIR', async (t) => {
  const r = await runWithDirectoryStdin(['write', 'out'])
  t.equal(r.code, 1)
  t.match(r.stderr, /^shoebox write: cannot read stdin: is a directory; no file sealed in out\n$/)
  t.notOk(fs.existsSync(path.join(tmp, 'out')), 'the directory it would have written into is not created')
})
