/**
 * shoebox write meeting a line it refuses (not JSON for --meta-from-field,
 * or too long): the input ends there, the records before it are sealed, and
 * the one error line names the line and counts the files sealed.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Readable, Writable } from 'node:stream'
import t from 'tap'
import { main } from '../../lib/cli/main.js'
import { cli } from '../cli-run.js'
import { archiveNames, decodeFile, tempDir, tempNames } from '../fixtures-roll/util.js'

const good = Array.from({ length: 250 }, (_, i) => `{"i":${i + 1}}`)

/** The payloads of the sealed archives in dir, in order. */
function sealedPayloads (dir: string): string[] {
  return archiveNames(dir).flatMap((n) => decodeFile(path.join(dir, n)).map((d) => d.record.payload.toString()))
}

t.test('a line --meta-from-field cannot parse: every line before it sealed, one line naming it, exit 1', async (t) => {
  const dir = tempDir(t)
  const r = await cli(['write', dir, '--template', 'e-{seq}.shoebox', '--roll-records', '100', '--meta-from-field', 'i'], [...good, 'nope', '{"i":0}', ''].join('\n'))
  t.equal(r.code, 1)
  // It failed the pipeline, which destroyed the sink: "no file sealed in DIR, 250 records read from stdin never reached a file".
  t.equal(r.stderr, `shoebox write: stdin: line 251: invalid JSON: Unexpected token 'o', "nope" is not valid JSON; 3 files sealed (250 records) in ${dir}\n`)
  t.same(archiveNames(dir), ['e-000000.shoebox', 'e-000001.shoebox', 'e-000002.shoebox'])
  t.same(sealedPayloads(dir), good, 'the lines before it, nothing after')
  t.same(tempNames(dir), [])
})

t.test('a line too long: every line before it sealed, stdin read no further, one line naming it, exit 1', async (t) => {
  const dir = tempDir(t)
  // A file on stdin (feedFile), so that the sink is sealing the first roll's file as the long line arrives.
  const input = path.join(tempDir(t), 'in.ndjson')
  fs.writeFileSync(input, [...good, 'x'.repeat(2000), '{"i":0}', ''].join('\n'))
  const fd = fs.openSync(input, 'r')
  t.teardown(() => { fs.closeSync(fd) })
  const err: Buffer[] = []
  const stderr = new Writable({ write (chunk: Buffer, _e, cb) { err.push(Buffer.from(chunk)); cb() } })
  const args = ['write', dir, '--template', 'e-{seq}.shoebox', '--roll-records', '100', '--max-record-size', '1KiB']
  const code = await main(args, { stdin: Readable.from([]), stdout: new Writable({ write (_c, _e, cb) { cb() } }), stderr, stdinFile: fd })
  t.equal(code, 1)
  // It failed the pipeline: "no file sealed in DIR, 250 records read from stdin never reached a file", while the
  // first roll's file, still being sealed, appeared after the command had returned.
  t.equal(Buffer.concat(err).toString(), 'shoebox write: stdin: line 251: longer than 992 bytes, the longest line a record of --max-record-size 1024 holds ' +
    `(raise --max-record-size); 3 files sealed (250 records) in ${dir}\n`)
  t.same(sealedPayloads(dir), good, 'the lines before it, nothing after')
  t.same(tempNames(dir), [])
})
