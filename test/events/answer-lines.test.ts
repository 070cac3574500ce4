/**
 * AnswerLines: a get's body split into lines from chunks cut anywhere (in
 * CRLF, inside a UTF-8 character), blank lines skipped, a last line without
 * CRLF kept, and stopping when the line handler says so, at a line over the
 * cap, or at bytes that are not UTF-8.
 */
import t from 'tap'
import { AnswerLines } from '../../lib/events/answer-lines.js'

const body = Buffer.from('{"a":"é😀"}\r\n\r\n{"b":2}\n  \r\n{"c":"x\\ny"}\r\n{"d":4}')
const expected = ['{"a":"é😀"}', '{"b":2}', '{"c":"x\\ny"}', '{"d":4}']

function read (chunks: Buffer[], stopAfter = Infinity): { lines: string[], wrote: boolean[] } {
  const lines: string[] = []
  const splitter = new AnswerLines((line) => {
    lines.push(line)
    return lines.length < stopAfter
  })
  const wrote = chunks.map((c) => splitter.write(c))
  splitter.end()
  return { lines, wrote }
}

t.test('split into two chunks at every byte', async (t) => {
  for (let at = 0; at <= body.length; at++) {
    t.same(read([body.subarray(0, at), body.subarray(at)]).lines, expected, `split at ${at}`)
  }
})

t.test('one byte at a time, and chunks of 2 to 13 bytes', async (t) => {
  for (let size = 1; size <= 13; size++) {
    const chunks: Buffer[] = []
    for (let i = 0; i < body.length; i += size) chunks.push(body.subarray(i, i + size))
    t.same(read(chunks).lines, expected, `chunks of ${size}`)
  }
})

t.test('a line longer than many chunks, and an empty body', async (t) => {
  const long = `{"s":"${'x'.repeat(100_000)}"}`
  const big = Buffer.from(`${long}\r\n{"n":1}\r\n`)
  const chunks: Buffer[] = []
  for (let i = 0; i < big.length; i += 1000) chunks.push(big.subarray(i, i + 1000))
  t.same(read(chunks).lines, [long, '{"n":1}'])
  t.same(read([]).lines, [])
  t.same(read([Buffer.alloc(0), Buffer.from('\r\n')]).lines, [])
})

t.test('the handler stops it: no more lines, write says false', async (t) => {
  const { lines, wrote } = read([body.subarray(0, 20), body.subarray(20)], 2)
  t.same(lines, expected.slice(0, 2))
  t.same(wrote, [true, false])
  t.same(read([body], 1).lines, expected.slice(0, 1), 'nor at the end')
})

t.test('lineNo counts every line, blank ones too', async (t) => {
  const seen: number[] = []
  const splitter: AnswerLines = new AnswerLines(() => { seen.push(splitter.lineNo); return true })
  splitter.write(body)
  splitter.end()
  t.same(seen, [1, 3, 5, 6])
})

t.test('a line over maxLine stops it: its failure, the line numbered, nothing kept; one at the cap is taken', async (t) => {
  const lines: string[] = []
  const splitter = new AnswerLines((line) => { lines.push(line); return true }, 10)
  t.equal(splitter.maxLine, 10)
  t.equal(splitter.write(Buffer.from('{"a":1}\r\n\r\n0123456789')), true, 'ten characters unfinished: within the cap')
  t.equal(splitter.write(Buffer.from('\n{"b"')), true)
  t.equal(splitter.write(Buffer.from(':"xxxx')), true, '10 characters so far')
  t.equal(splitter.write(Buffer.from('x')), false, 'the 11th character of an unfinished line')
  t.equal(splitter.failure, 'line too long')
  t.equal(splitter.lineNo + 1, 4, 'the line over the cap is the 4th (a blank one counted)')
  t.equal(splitter.write(Buffer.from('"}\n{"c":3}\n')), false, 'stopped for good')
  splitter.end()
  t.same(lines, ['{"a":1}', '0123456789'])
  t.same(read([Buffer.from('{"a":1}\n')]).lines, ['{"a":1}'], 'the default cap')
  t.equal(new AnswerLines(() => true).maxLine, 64 * 1024 * 1024)
})

t.test('a body with no line feed at all: stopped once past the cap, in chunks of any size', async (t) => {
  for (const size of [1, 3, 7, 64]) {
    const splitter = new AnswerLines(() => true, 50)
    let written = 0
    while (written < 1000 && splitter.write(Buffer.alloc(size, 0x61))) written += size
    t.ok(written <= 50 && written + size > 50, `chunks of ${size}: stopped at the chunk that passed 50 (${written} before it)`)
    t.equal(splitter.failure, 'line too long')
    t.equal(splitter.lineNo, 0)
  }
})

/** Every split of `body` into two chunks, and one byte at a time: the lines taken, why it stopped, at which line. */
function splits (body: Buffer): Array<{ at: number, lines: string[], failure: string | undefined, line: number }> {
  const out = []
  for (let at = 0; at <= body.length; at++) {
    const chunks = at === body.length ? Array.from(body, (b) => Buffer.from([b])) : [body.subarray(0, at), body.subarray(at)]
    const lines: string[] = []
    const splitter = new AnswerLines((line) => { lines.push(line); return true })
    for (const chunk of chunks) if (!splitter.write(chunk)) break
    splitter.end()
    out.push({ at, lines, failure: splitter.failure, line: splitter.lineNo + 1 })
  }
  return out
}

t.test('bytes that are not UTF-8 stop it at their line, after the lines before it, wherever the chunks are cut', async (t) => {
  const bad: Record<string, number[]> = {
    'a lone continuation byte': [0x80],
    'an invalid byte': [0xFF],
    'a lead byte past F4': [0xF5, 0x80, 0x80, 0x80],
    'an overlong NUL': [0xC0, 0x80],
    'an overlong 3-byte form': [0xE0, 0x80, 0x80],
    'a surrogate': [0xED, 0xA0, 0x80],
    'past U+10FFFF': [0xF4, 0x90, 0x80, 0x80],
    'a character cut short by a quote': [0xE2, 0x82],
    'a character cut short by the line feed': [0xF0, 0x9F, 0x98]
  }
  for (const [name, bytes] of Object.entries(bad)) {
    const line2 = Buffer.concat([Buffer.from('{"b":"é'), Buffer.from(bytes), Buffer.from(name.endsWith('line feed') ? '' : '"}')])
    const body = Buffer.concat([Buffer.from('{"a":"😀"}\r\n'), line2, Buffer.from('\r\n{"c":3}\r\n')])
    for (const r of splits(body)) {
      if (r.failure !== 'not UTF-8' || r.line !== 2 || r.lines.length !== 1 || r.lines[0] !== '{"a":"😀"}') {
        t.fail(`${name}, cut at ${r.at}: ${JSON.stringify(r)}`)
      }
    }
    t.pass(name)
  }
  // ASCII around a lone bad byte: it decodes to as many characters as bytes, one of them U+FFFD.
  const ascii = Buffer.concat([Buffer.from('{"a":1}\r\n{"b":"x'), Buffer.from([0xFF]), Buffer.from('"}\r\n{"c":3}\r\n')])
  for (const r of splits(ascii)) {
    if (r.failure !== 'not UTF-8' || r.line !== 2 || r.lines.join('|') !== '{"a":1}') t.fail(`ASCII, cut at ${r.at}: ${JSON.stringify(r)}`)
  }
  t.pass('a bad byte among ASCII')
})

t.test('valid UTF-8 of every length split anywhere, a U+FFFD sent as such, and a body ending inside a character', async (t) => {
  const good = Buffer.from('{"a":"aé€😀\uFFFD"}\r\n{"b":"\u{10FFFF}\u{FFFF}"}\r\n')
  for (const r of splits(good)) {
    if (r.failure !== undefined || r.lines.join('|') !== '{"a":"aé€😀\uFFFD"}|{"b":"\u{10FFFF}\u{FFFF}"}') t.fail(`cut at ${r.at}: ${JSON.stringify(r)}`)
  }
  t.pass('taken as sent')
  const cut = Buffer.from('{"a":1}\r\n{"b":"😀"}').subarray(0, -4)
  for (const r of splits(cut)) {
    if (r.failure !== 'not UTF-8' || r.line !== 2 || r.lines.join('|') !== '{"a":1}') t.fail(`cut at ${r.at}: ${JSON.stringify(r)}`)
  }
  t.pass('a last line ending inside a character is not taken')
})
