/**
 * `shoebox ship --spill` on a disk that fills (a preload makes the spill's
 * file writes fail with ENOSPC past a budget) while the server is
 * unreachable: the error line counts as spilled exactly the events the
 * spill holds (the next run sends those), and the rest as not kept, with
 * the reason; never "spilled" for an event that is not on disk.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t from 'tap'
import { cliBinary } from '../fixtures-s3/cli-build.js'
import { tempDir } from '../fixtures-roll/util.js'
import { transpileTree } from '../transpile.js'
import { cli } from '../cli-run.js'

const ENOSPC_TS = fileURLToPath(new URL('../fixtures-roll/enospc.ts', import.meta.url))
const bin = cliBinary()
const preload = pathToFileURL(transpileTree(ENOSPC_TS, tempDir(t, 'shoebox-ship-full-pre-'))).href

/** A loopback port nothing listens on: connections are refused at once. */
async function closedPort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  return port
}

t.test('an unreachable server and a spill that fills: what the line calls spilled is what the spill holds', async (t) => {
  const lines = Array.from({ length: 8000 }, (_, i) => JSON.stringify({ i, text: 'héllo 📦', pad: 'p'.repeat(250) }))
  const work = tempDir(t, 'shoebox-ship-full-')
  const input = path.join(work, 'in.ndjson')
  fs.writeFileSync(input, lines.join('\n') + '\n')
  const spill = path.join(work, 'spill')
  const url = `http://127.0.0.1:${await closedPort()}`
  // stdin a file: every line is read before the shipper gives up (a pipe is cut where it gave up).
  const child = spawn(process.execPath, ['--import', preload, bin, 'ship', url, '--stream', 's', '--spill', spill, '--attempts', '1'], {
    stdio: [fs.openSync(input, 'r'), 'ignore', 'pipe'],
    env: { ...process.env, SHOEBOX_TEST_ENOSPC_AFTER: String(1536 * 1024) }
  })
  let stderr = ''
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
  const [code] = await once(child, 'close') as [number | null]
  const r = { code, stderr }
  t.equal(r.code, 1, 'exit 1')
  const said = /8000 lines read from stdin: 0 acknowledged, (\d+) spilled to .*?(?:, (\d+) unconfirmed \(not kept; the server may or may not have them\))?(?:, (\d+) never sent and not kept \(the spill could not take them: [^)]*no space left on device \(ENOSPC\)\))?\n$/.exec(r.stderr)
  t.ok(said !== null, `one line that counts every line read: ${r.stderr}`)
  if (said === null) return
  const [spilled, unconfirmed, lost] = [Number(said[1]), Number(said[2] ?? 0), Number(said[3] ?? 0)]
  t.equal(spilled + unconfirmed + lost, 8000, 'every line is counted once')
  t.ok(spilled > 0 && spilled < 8000, `some spilled (${spilled}), not all: the disk filled`)
  t.match(r.stderr, /the spill could not keep every event: cannot write \S+\.part: no space left on device \(ENOSPC\)/, 'the line says why the spill did not keep them')

  // The next run's view of the spill: recovered and read as the shipper's next run would.
  const recovered = await cli(['recover', spill])
  t.equal(recovered.code, 0, recovered.stderr)
  const read = await cli(['read', '--payload-only', path.join(spill, '*')])
  const held = read.stdout.toString().split('\n').filter((l) => l !== '')
  t.equal(held.length, spilled, `the spill holds exactly the events the line called spilled (${held.length})`)
  t.same(held.map((l) => (JSON.parse(l) as { i: number }).i), [...Array(spilled).keys()], 'the first ones, in order')
})

t.test('a replay whose sidecar (.acked) cannot be written: the line names it and the spill file, and says what the next run sends again', async (t) => {
  // It said only "ENOSPC: no space left on device, write".
  const work = tempDir(t, 'shoebox-ship-acked-')
  const spill = path.join(work, 'spill')
  const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, pad: 'p'.repeat(100) })).join('\n') + '\n'
  const spilled = await cliProcessIn(['ship', `http://127.0.0.1:${await closedPort()}`, '--stream', 's', '--spill', spill, '--attempts', '1'], lines)
  t.equal(spilled.code, 1, spilled.stderr)
  const files = fs.readdirSync(spill)
  t.equal(files.length, 1, 'one spill file')
  const { spawnServe } = await import('../events/conformance-kit.js')
  const serve = await spawnServe(['--data', path.join(work, 'events')])
  t.teardown(() => { serve.child.kill('SIGKILL') })
  const child = spawn(process.execPath, ['--import', preload, bin, 'ship', serve.url, '--stream', 's', '--spill', spill], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, SHOEBOX_TEST_ENOSPC_AFTER: '0', SHOEBOX_TEST_ENOSPC_FILES: '\\.acked\\.' }
  })
  let stderr = ''
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
  const [code] = await once(child, 'close') as [number | null]
  t.equal(code, 1)
  const file = path.join(spill, files[0])
  t.equal(stderr, `shoebox ship: cannot record the events of ${file} the server acknowledged in ${file}.acked: no space left on device (ENOSPC); ` +
    `the spill file stays, and the next run sends again those acknowledged since its last record; 0 lines read from stdin: 0 acknowledged, 0 spilled to ${spill} (the next run with --spill ${spill} sends them)\n`)
  t.same(fs.readdirSync(spill), files, 'the spill file kept, no sidecar or temporary file')
})

/** The binary with `args` and `stdin`, to its end. */
async function cliProcessIn (args: string[], stdin: string): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
  child.stdin?.end(stdin)
  const [code] = await once(child, 'close') as [number | null]
  return { code, stderr }
}
