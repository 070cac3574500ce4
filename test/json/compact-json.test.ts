/** compactJson: whitespace between tokens out, everything else as written, at any depth. */
import t from 'tap'
import { compactJson } from '../../lib/json/compact-json.js'

t.test('whitespace between tokens goes, strings and numbers stay as written', async (t) => {
  t.equal(compactJson(' {\n\t"a b" : [ 1.50 , 9007199254740993 ,\r\n1e400 ] ,"a b":"x \\" y" }\n'), '{"a b":[1.50,9007199254740993,1e400],"a b":"x \\" y"}')
  t.equal(compactJson('"  \\u00e9 \\ud800 "'), '"  \\u00e9 \\ud800 "')
  t.equal(compactJson('xx[ 1, {} ]yy', 2, 11), '[1,{}]', 'a span of a larger text')
  const deep = '[ '.repeat(100000) + ' ]'.repeat(100000)
  t.equal(compactJson(deep), '['.repeat(100000) + ']'.repeat(100000), 'no stack to overflow')
})
