/**
 * --max-record-size on the writing commands: the writers refuse what the
 * readers would refuse, so the limit must be settable on both sides. A record
 * over it fails naming its line, after the records before it.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { cli } from '../cli-run.js'
import { decodeRecords } from '../helpers.js'

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-write-max-'))
t.teardown(() => { fs.rmSync(tmp, { recursive: true, force: true }) })

const long = JSON.stringify({ text: 'x'.repeat(300) })
const input = `{"a":1}\n${long}\n{"b":2}\n`

t.test('encode --max-record-size', async (t) => {
  const refused = await cli(['encode', '--max-record-size', '200'], input)
  t.equal(refused.code, 1, 'a record over the limit fails')
  t.match(refused.stderr, /^shoebox encode: stdin: line 2: .*\n$/, 'naming its line, in one line')
  t.same((await decodeRecords(refused.stdout)).map((r) => r.payload.toString()), ['{"a":1}'], 'after the record before it')
  const written = await cli(['encode', '--max-record-size', '1KiB'], input)
  t.equal(written.code, 0, written.stderr)
  t.equal((await decodeRecords(written.stdout)).length, 3)
  const bad = await cli(['encode', '--max-record-size', 'big'], input)
  t.equal(bad.code, 2, 'a bad size is a usage error')
  t.match(bad.stderr, /--max-record-size/)
})

t.test('write --max-record-size', async (t) => {
  const small = path.join(tmp, 'small')
  const refused = await cli(['write', small, '--max-record-size', '200'], input)
  t.equal(refused.code, 1, 'a record over the limit fails')
  t.match(refused.stderr, /line 2/, 'naming its line')
  const dir = path.join(tmp, 'ok')
  const written = await cli(['write', dir, '--max-record-size', '1KiB'], input)
  t.equal(written.code, 0, written.stderr)
  const files = fs.readdirSync(dir).filter((n) => !n.startsWith('.'))
  t.equal(files.length, 1)
  t.same((await decodeRecords(fs.readFileSync(path.join(dir, files[0])))).map((r) => r.payload.toString()), ['{"a":1}', long, '{"b":2}'])
  const bad = await cli(['write', path.join(tmp, 'bad'), '--max-record-size', '10'], input)
  t.equal(bad.code, 2, 'a size below the smallest record is a usage error')
  t.notOk(fs.existsSync(path.join(tmp, 'bad')), 'and creates nothing')
})

// From a pipe a line comes in many reads; the gate held the pieces of a long one and passed them on at its end,
// where the encoder refused it and closed the gate, which then pushed the rest after its end: 'stream.push()
// after EOF', the record before it lost by write ('no file sealed').
t.test('a line over --max-record-size from a pipe, in many reads', async (t) => {
  const chunks = [Buffer.from('{"a":1}\n')]
  for (let i = 0; i < 16; i++) chunks.push(Buffer.alloc(64 * 1024, 'x'))
  chunks.push(Buffer.from('\n{"b":2}\n'))
  const encoded = await cli(['encode', '--max-record-size', '1KiB'], chunks)
  t.equal(encoded.code, 1)
  t.match(encoded.stderr, /^shoebox encode: stdin: line 2: longer than .*\n$/, 'naming its line, in one line')
  t.same((await decodeRecords(encoded.stdout)).map((r) => r.payload.toString()), ['{"a":1}'], 'after the record before it')
  const dir = path.join(tmp, 'piped')
  const written = await cli(['write', dir, '--max-record-size', '1KiB'], chunks)
  t.equal(written.code, 1)
  t.match(written.stderr, /^shoebox write: stdin: line 2: longer than .*; 1 file sealed \(1 record\) in .*\n$/, 'naming its line and what was sealed')
  const files = fs.readdirSync(dir).filter((n) => !n.startsWith('.'))
  t.same((await decodeRecords(fs.readFileSync(path.join(dir, files[0])))).map((r) => r.payload.toString()), ['{"a":1}'], 'the record before it sealed')
})
