/**
 * A writer process for the roll tests: writes numbered records (payload
 * {"seq":n}) through rollingSink into a directory. After each 'flush' event
 * it prints `f <sink.flushedRecords>` on stdout (stdout is a pipe, written
 * synchronously, so a printed number has really been flushed before the
 * line exists). With `total` it ends the sink and prints `done`; without,
 * it writes until it is killed.
 *
 * Usage: node writer.js '<WriterOptions as JSON>' (transpiled by buildWriter()
 * in util.ts), or node <TypeScript loader flags> writer.ts '<...>'.
 */
import { once } from 'node:events'
import { finished } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { rollingSink } from '../../lib/roll/rolling-sink.js'
import type { WriterOptions } from './util.js'

const options = JSON.parse(process.argv[2] ?? '{}') as WriterOptions

function print (line: string): void {
  process.stdout.write(line + '\n')
}

async function main (): Promise<void> {
  const sink = rollingSink({
    dir: options.dir,
    gzip: options.gzip === true ? true : undefined,
    compress: options.zstd === true ? 'zstd' : undefined,
    template: options.template,
    roll: { size: options.rollSize, records: options.rollRecords },
    flushInterval: options.flushInterval ?? 20,
    blockSize: options.blockSize
  })
  sink.on('flush', () => { print(`f ${sink.flushedRecords}`) })
  const failed = new Promise<never>((_resolve, reject) => { sink.on('error', reject) })
  failed.catch(() => {})
  if (options.waitForGo === true) {
    print('ready')
    process.stdin.setEncoding('utf8')
    // 'end' without a line: the parent went away, so don't wait forever.
    const go = await Promise.race([once(process.stdin, 'data').then(() => true), once(process.stdin, 'end').then(() => false)])
    if (!go) process.exit(2)
    process.stdin.pause()
  }
  const metadata = options.writer === undefined ? {} : { w: String(options.writer) }
  const batch = options.batch ?? 50
  const pauseMs = options.pauseMs ?? 1
  const total = options.total ?? Number.POSITIVE_INFINITY
  let n = 0
  while (n < total) {
    const end = Math.min(total, n + batch)
    for (; n < end; n++) {
      if (!sink.write({ metadata, payload: { seq: n } })) await Promise.race([once(sink, 'drain'), failed])
    }
    await Promise.race([sleep(pauseMs), failed])
  }
  sink.end()
  await finished(sink)
  print('done')
}

main().catch((err: unknown) => {
  process.stderr.write(`writer failed: ${String((err as Error)?.stack ?? err)}\n`)
  process.exit(1)
})
