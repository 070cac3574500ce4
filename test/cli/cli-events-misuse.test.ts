/**
 * `shoebox events` and `shoebox serve` as a careless or hostile user meets
 * them: a URL with nobody behind it or with credentials in it, a range whose
 * end is before its start, option values node:util's parser refuses with a
 * message of several lines, `serve --retention 0`. Each failure is one line
 * on stderr (a usage mistake adds the "try --help" line), exit 2 for usage
 * and 1 for the server or the network.
 */
import t from 'tap'
import { cli } from '../cli-run.js'

/** A usage failure: the message on one line, then the hint. */
const usageLines = /^shoebox \w+: [^\n]+\n\(try 'shoebox \w+ --help'\)\n$/

t.test('an option value the parser refuses (--limit -1) is one line, not its three', async (t) => {
  const r = await cli(['events', 'get', 'http://127.0.0.1:1', 's', '--limit', '-1'])
  t.equal(r.code, 2)
  t.match(r.stderr, usageLines)
  t.match(r.stderr, /--limit/)
})
