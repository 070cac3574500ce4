/**
 * A path with control characters in it (a newline, a tab, a terminal escape)
 * is printed escaped on the lines of write, recover, upload, pack and unpack,
 * as on read's, verify's and ls's (cli-read.test.ts): one line stays one
 * line, and nothing reaches the terminal as an escape sequence.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { encodeRecords } from '../../lib/index.js'
import { hostName, tempName } from '../../lib/roll/names.js'
import { cli, type CliResult } from '../cli-run.js'
import { deadPid } from '../fixtures-roll/util.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-cli-control-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const CONTROL = 'x\ny\t\x1b[31m'
const escaped = (text: string): string => text.replaceAll('\n', '\\n').replaceAll('\t', '\\t').replaceAll('\x1b', '\\x1b')

/** A fresh directory under tmp whose own name holds the control characters. */
function controlDir (label: string): string {
  const dir = path.join(tmp, `${label}-${CONTROL}`)
  fs.mkdirSync(dir)
  return dir
}

/** `text` has `lines` lines, no raw escape, and shows `dir` escaped. */
function oneLineEach (t: Test, text: string, lines: number, dir: string): void {
  t.notOk(text.includes('\x1b'), `no raw escape: ${JSON.stringify(text)}`)
  t.equal(text.split('\n').length, lines + 1, `${lines} line(s): ${JSON.stringify(text)}`)
  t.ok(text.includes(escaped(dir)), 'the path shown escaped')
}

function ok (t: Test, r: CliResult): void {
  t.equal(r.code, 0, r.stderr)
}

t.test("write's summary line", async (t) => {
  const dir = controlDir('write')
  const r = await cli(['write', path.join(dir, 'out')], 'a\nb\n')
  ok(t, r)
  oneLineEach(t, r.stderr, 1, dir)
})

t.test("recover's line, and write's when it recovers first", async (t) => {
  const pid = await deadPid()
  for (const command of ['recover', 'write']) {
    const dir = controlDir(`recover-${command}`)
    fs.writeFileSync(path.join(dir, tempName('a-000000.shoebox', hostName(), pid)), encodeRecords([{ payload: 'old' }]))
    const r = await cli(command === 'recover' ? ['recover', dir] : ['write', dir, '--template', 'b-{seq}.shoebox'], 'new\n')
    ok(t, r)
    // write: the recovered line and the summary line.
    oneLineEach(t, command === 'recover' ? r.stdout.toString() : r.stderr, command === 'recover' ? 1 : 2, dir)
  }
})

t.test("upload's line", async (t) => {
  const dir = controlDir('upload')
  const file = path.join(dir, 'a.shoebox')
  fs.writeFileSync(file, encodeRecords([{ payload: 'up' }]))
  const r = await cli(['upload', file, '--to', path.join(tmp, 'upload-store')])
  ok(t, r)
  oneLineEach(t, r.stdout.toString(), 1, dir)
})

t.test("pack's and unpack's summary lines, and pack's skipped lines", async (t) => {
  const src = controlDir('pack')
  fs.writeFileSync(path.join(src, 'doc.txt'), 'hello')
  fs.symlinkSync('/nowhere', path.join(src, 'link'))
  const store = path.join(tmp, 'pack-store')
  const packed = await cli(['pack', src, '--to', store, '--verbose'])
  ok(t, packed)
  // The skipped link, then the summary.
  oneLineEach(t, packed.stderr, 2, src)
  const out = path.join(controlDir('unpack'), 'out')
  const unpacked = await cli(['unpack', path.join(store, '*'), '--out', out])
  ok(t, unpacked)
  oneLineEach(t, unpacked.stderr, 1, out)
  t.equal(fs.readFileSync(path.join(out, 'doc.txt'), 'utf8'), 'hello')
})
