/**
 * `shoebox serve` as a user runs it: the real binary prints its URL, serves,
 * stops cleanly on SIGTERM and SIGINT, and a restart finds the events; option
 * mistakes are usage errors (exit 2).
 */
import { once } from 'node:events'
import net from 'node:net'
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { cli } from '../cli-run.js'
import { tempDir } from '../temp-dir.js'
import { eventually, get, json, post, put, spawnServe, stderrOf, streams } from './conformance-kit.js'

t.test('serve, stop with SIGTERM, restart: the events are there', async (t) => {
  const data = t.testdir()
  const first = await spawnServe(['--data', data, '--namespace', 'kronos', '--namespace', 'other'])
  t.match(first.url, /^http:\/\/127\.0\.0\.1:\d+$/, 'binds 127.0.0.1 by default')
  await put(t, first.url, { s: [{ '@time': 1 }, { '@time': 2 }] })
  await put(t, first.url, { o: [{ '@time': 3 }] }, 'other')
  const rival = await spawnServe(['--data', data]).then((p) => { p.child.kill('SIGKILL'); return 'started' }, (err: Error) => err.message)
  t.match(rival, /exited \(1\) before listening: .*is in use by process \d+/, 'a second server on the same directory is refused')
  first.child.kill('SIGTERM')
  const end = await first.exited
  t.equal(end.code, 0, 'SIGTERM stops it cleanly')
  t.match(end.stderr, /stopped/)
  const second = await spawnServe(['--data', data, '--namespace', 'kronos', '--namespace', 'other', '--mode', 'readonly'])
  t.same((await get(t, second.url, 's', 0, 10)).map((e) => e['@time']), [1, 2])
  t.same(await streams(second.url, 'other'), ['o'])
  const blocked = await post(second.url, '/1.0/events/put', { events: { s: [{}] } })
  t.equal(blocked.status, 403, '--mode readonly')
  t.same(json(blocked)['@errors'], ['kronosd is configured to block access to this endpoint.'])
  second.child.kill('SIGINT')
  t.equal((await second.exited).code, 0, 'SIGINT too')
})

t.test('usage errors', async (t) => {
  for (const args of [['--mode', 'fast'], ['--port', 'x'], ['--max-body', 'lots'], ['--max-connections', '0'], ['--max-connections', '1e3'], ['--retention', '30'], ['extra'], ['--store', 'shared'], ['--mode', 'readonly', '--store', 'shared', '--poll-interval', 'often']]) {
    const r = await cli(['serve', '--data', t.testdir(), ...args])
    t.equal(r.code, 2, `${args.join(' ')} is a usage error`)
    t.equal(r.stderr.split('\n')[0].startsWith('shoebox serve: '), true, r.stderr)
  }
  // The line names the flag typed, never the API's option (maxBody, memtableSize, namespaces, pollInterval).
  for (const [args, line] of [
    [['--max-body', 'lots'], "--max-body: expected a size such as 100MiB, 10MB or 4096, got \"lots\""],
    [['--max-body', '1TB'], "--max-body: must be at most 256MiB (a put's body is held in memory while it is stored), got \"1TB\" (1000000000000 bytes)"],
    [['--memtable-size', 'big'], "--memtable-size: expected a size such as 100MiB, 10MB or 4096, got \"big\""],
    [['--namespace', ''], '--namespace: a list of non-empty names'],
    [['--trust-clock'], '--trust-clock: only does something with retention (the clock is judged before retention drops by it)'],
    [['--retention', '30'], "--retention: expected a duration such as 10m, 1h, 30s or 250ms, got \"30\" (a number other than 0 needs a unit: ms, s, m, h or d)"],
    [['--mode', 'readonly', '--store', 'file:///nowhere', '--poll-interval', 'often'], "--poll-interval: expected a duration such as 10m, 1h, 30s or 250ms, got \"often\""]
  ] as const) {
    const r = await cli(['serve', '--data', t.testdir(), ...args])
    t.same([r.code, r.stderr.split('\n')[0]], [2, `shoebox serve: ${line}`], args.join(' '))
  }
  const help = await cli(['serve', '--help'])
  t.equal(help.code, 0)
  t.match(help.stdout.toString(), /--retention T/)
})

t.test('--data DIR whose name is not UTF-8, as the shell passes it (each bad byte as U+FFFD), is refused: the server would make another directory', async (t) => {
  // `shoebox serve --data events-<0xe9>` made a second directory, named with U+FFFD, and kept the events there.
  const base = tempDir(t)
  const named = Buffer.concat([Buffer.from(path.join(base, 'caf')), Buffer.from([0xe9])])
  fs.mkdirSync(named)
  const given = path.join(base, 'caf\uFFFD')
  const r = await cli(['serve', '--data', given, '--port', '0'])
  t.equal(r.code, 1)
  t.equal(r.stderr, `shoebox serve: cannot write into ${given}: its name is not UTF-8 (each bad byte arrives as U+FFFD), and a directory of the name as it reads would be another one; nothing written (rename it, or run 'shoebox serve --data .' inside it)\n`)
  t.same(fs.readdirSync(base, { encoding: 'buffer' }), [Buffer.from([0x63, 0x61, 0x66, 0xe9])], 'no other directory made')
  t.same(fs.readdirSync(named), [], 'nothing written into it either')
})

t.test('a --data DIR that is read-only (a remount): one line naming the file, saying the server did not start and the events are kept', async (t) => {
  const data = tempDir(t)
  const first = await spawnServe(['--data', data])
  await put(t, first.url, { s: [{ '@time': 1 }, { '@time': 2 }] })
  first.child.kill('SIGTERM')
  t.equal((await first.exited).code, 0)
  // A preload makes DIR's files read-only (EROFS on writing one), as a remount read-only does: tests must not mount.
  const { transpileTree } = await import('../transpile.js')
  const { fileURLToPath } = await import('node:url')
  const erofs = transpileTree(fileURLToPath(new URL('../fixtures-roll/erofs.ts', import.meta.url)), tempDir(t))
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const refused = await spawnServe(['--data', data], { SHOEBOX_TEST_EROFS_FILES: '^' + esc(data + path.sep) }, { nodeArgs: ['--import', pathToFileURL(erofs).href] })
    .then((p) => { p.child.kill('SIGKILL'); return 'started' }, (err: Error) => err.message)
  t.match(refused, new RegExp(esc(`exited (1) before listening: shoebox serve: cannot lock ${path.join(data, 'serve.pid')}: read-only file system (EROFS); `) +
    esc(`the server did not start, the events in ${data} are kept as they were\n`) + '$'))
  // Writable again: the next start serves every event put before.
  const again = await spawnServe(['--data', data])
  t.same((await get(t, again.url, 's', 0, 10)).map((e) => e['@time']), [1, 2])
  again.child.kill('SIGTERM')
  t.equal((await again.exited).code, 0)
})

t.test('a collector whose --data disk is full for its id file: one line naming the file, saying the server did not start', async (t) => {
  // It said only "ENOSPC: no space left on device, write": not which file, nor what became of the events.
  const base = tempDir(t)
  const data = path.join(base, 'data')
  const { transpileTree } = await import('../transpile.js')
  const { fileURLToPath } = await import('node:url')
  const enospc = transpileTree(fileURLToPath(new URL('../fixtures-roll/enospc.ts', import.meta.url)), tempDir(t))
  const refused = await spawnServe(['--data', data, '--mode', 'collector', '--store', path.join(base, 'shared')], { SHOEBOX_TEST_ENOSPC_AFTER: '0', SHOEBOX_TEST_ENOSPC_FILES: 'collector-id' },
    { nodeArgs: ['--import', pathToFileURL(enospc).href] })
    .then((p) => { p.child.kill('SIGKILL'); return 'started' }, (err: Error) => err.message)
  t.equal(refused, `shoebox serve exited (1) before listening: shoebox serve: cannot write ${path.join(data, 'collector-id')}: no space left on device (ENOSPC); ` +
    `the server did not start, the events in ${data} are kept as they were\n`)
  t.notOk(fs.existsSync(path.join(data, 'collector-id')), 'no id file, no partial one')
})

t.test('SIGTERM waits for a request in flight (up to 5 s); a second signal ends it at once', async (t) => {
  const data = t.testdir()
  const serve = await spawnServe(['--data', data])
  const { port } = new URL(serve.url)
  const body = '{"events":{"s":[{"@time":1}]}}'
  // Requests in flight when the signal comes: the server has read their heads (it answers 100 Continue) and
  // waits for their bodies, sent half-way. (A connection whose head it has not read yet is idle, and the
  // stop closes it at once: a fixed pause before the signal raced the server's accept under load.)
  const inFlight = async (): Promise<{ socket: net.Socket, until: (re: RegExp) => Promise<string> }> => {
    const socket = net.connect(Number(port), '127.0.0.1')
    socket.on('error', () => {})
    t.teardown(() => { socket.destroy() })
    let text = ''
    socket.setEncoding('latin1').on('data', (s: string) => { text += s })
    const closed = once(socket, 'close')
    let ended = false
    void closed.then(() => { ended = true })
    // What the server sent once it matches `re`, or once it closed the connection.
    const until = async (re: RegExp): Promise<string> => {
      while (!re.test(text) && !ended) await Promise.race([once(socket, 'data'), closed])
      return text
    }
    socket.write(`POST /1.0/events/put HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`)
    t.match(await until(/100 Continue/), /^HTTP\/1\.1 100 Continue\r\n/, 'the head was read')
    socket.write(body.slice(0, 10))
    return { socket, until }
  }
  // One to finish after the signal, one that holds the stop in its grace.
  const finishing = await inFlight()
  await inFlight()
  serve.child.kill('SIGTERM')
  // The signal is taken once the server stops listening: a new connection is refused.
  const refused = async (): Promise<boolean> => await new Promise((resolve) => {
    const probe = net.connect(Number(port), '127.0.0.1')
    probe.once('connect', () => { probe.destroy(); resolve(false) }).once('error', () => { resolve(true) })
  })
  while (!await refused()) await new Promise((resolve) => setTimeout(resolve, 20))
  finishing.socket.write(body.slice(10))
  t.match(await finishing.until(/"@took"/), /HTTP\/1\.1 200 OK[^]*"num_inserted": 1/, 'one SIGTERM lets the requests in flight finish first')
  t.same([serve.child.exitCode, serve.child.signalCode], [null, null], 'and it runs on while one is unfinished')
  serve.child.kill('SIGTERM')
  const end = await serve.exited
  t.same([end.code, end.signal], [null, 'SIGTERM'], 'the second one ends it, by the signal')
})

t.test("a background line names a store's key with its control characters escaped: a key of the shared store (any writer's) coloured the operator's terminal", async (t) => {
  const shared = t.testdir()
  const serve = await spawnServe(['--mode', 'readonly', '--store', pathToFileURL(path.join(shared, 'p')).href, '--poll-interval', '250ms'])
  t.teardown(() => { serve.child.kill('SIGKILL') })
  const stderr = stderrOf(serve)
  fs.mkdirSync(path.join(shared, 'p', 'index'), { recursive: true })
  fs.writeFileSync(path.join(shared, 'p', 'index', 'ev\u001b[31mRED\nshoebox serve: forged.json'), 'junk')
  t.ok(await eventually(() => stderr().includes('is not the index')), 'the bad object is said')
  const line = stderr().split('\n').find((l) => l.includes('is not the index')) ?? ''
  t.match(line, /^shoebox serve: file:\/\/\S+\/index\/ev\\x1b\[31mRED\\nshoebox serve: forged\.json is not the index of collector /)
  t.notOk([...stderr()].some((c) => c !== '\n' && c.charCodeAt(0) < 0x20), 'no control character but the line ends')
})
