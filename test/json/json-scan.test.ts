/**
 * The strict JSON validator: it agrees with JSON.parse on thousands of
 * mutated inputs, and finds where a value ends inside a larger text (how a
 * put body's events are sliced out).
 */
import t from 'tap'
import { checkJsonText, skipJsonValue } from '../../lib/json/json-scan.js'

t.test('the validator agrees with JSON.parse on mutated inputs', async (t) => {
  const sample = '{"a":[1,-2.5e+3,true,false,null,"x\\"y\\u00e9"],"b":{"c":{}},"d":[],"e":0.1,"f":"😀"}'
  const alphabet = '{}[]":,.-+eE0123456789 tfnul\\x\t\n'
  let state = 12345
  const rand = (n: number): number => {
    state = (state * 1103515245 + 12345) & 0x7fffffff
    return state % n
  }
  let disagreements = 0
  for (let round = 0; round < 5000; round++) {
    const chars = [...sample]
    const edits = 1 + rand(3)
    for (let k = 0; k < edits; k++) {
      const at = rand(chars.length)
      const kind = rand(3)
      if (kind === 0) chars.splice(at, 1)
      else if (kind === 1) chars.splice(at, 0, alphabet[rand(alphabet.length)])
      else chars[at] = alphabet[rand(alphabet.length)]
    }
    const text = chars.join('')
    let native = true
    try { JSON.parse(text) } catch { native = false }
    let ours = true
    try { checkJsonText(text) } catch { ours = false }
    if (native !== ours) {
      disagreements++
      t.fail(`disagree on ${JSON.stringify(text)}: JSON.parse ${native}, ours ${ours}`)
    }
  }
  t.equal(disagreements, 0)
})


t.test('skipJsonValue slices event texts out of a put body', async (t) => {
  const body = '{"events": {"s": [ {"a":1} ,{"b":[2,{"c":"]"}]}\n]}}'
  const arrayStart = body.indexOf('[')
  const texts: string[] = []
  let i = arrayStart + 1
  for (;;) {
    while (/\s/.test(body[i])) i++
    const end = skipJsonValue(body, i)
    texts.push(body.slice(i, end))
    i = end
    while (/\s/.test(body[i])) i++
    if (body[i++] === ']') break
  }
  t.same(texts, ['{"a":1}', '{"b":[2,{"c":"]"}]}'])
  t.equal(skipJsonValue(body, 0), body.length)
})
