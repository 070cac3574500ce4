/**
 * A publisher process for the concurrency and kill tests:
 *   node publisher.js BASE PREFIX COUNT [VALUE]
 * ingests COUNT objects {content_hash: PREFIX<i>, value: VALUE} into BASE's
 * meta db, printing `waiting` when another publisher holds the lock and the
 * result as one JSON line at the end. With HANG_IN_WRITE=1 the first write
 * of a temporary history file is made, `writing` printed, and the process
 * then waits forever inside the write (the kill test's deterministic
 * "mid-write").
 */
import fs from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { metaIngest } from '../../lib/meta/ingest.js'

const [base, prefix, count, value = 'v'] = process.argv.slice(2)

async function hangInWrite (): Promise<void> {
  const probe = await fs.open(process.execPath, 'r')
  const proto = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<unknown> }
  await probe.close()
  const write = proto.write
  proto.write = async function (this: fs.FileHandle, ...args: unknown[]) {
    const done = await write.apply(this, args)
    process.stdout.write('writing\n')
    // a pending promise alone does not keep Node running: without a live timer the process could exit before the kill
    setInterval(() => {}, 60_000)
    return await new Promise(() => { void done })
  }
}

const ingest = metaIngest(base, { lockWait: 120000 })
ingest.on('wait', () => process.stdout.write('waiting\n'))
function * objects (): Generator<object> {
  for (let i = 0; i < Number(count); i++) yield { content_hash: `${prefix}${String(i).padStart(7, '0')}`, value, pad: 'x'.repeat(40) }
}
const ready = process.env.HANG_IN_WRITE === '1' ? hangInWrite() : Promise.resolve()
ready.then(async () => { await pipeline(Readable.from(objects()), ingest) }).then(() => {
  process.stdout.write(JSON.stringify(ingest.result) + '\n')
}, (err: unknown) => {
  process.stderr.write(String(err) + '\n')
  process.exitCode = 1
})
