/**
 * An update that is killed mid-transaction, for test/meta/update.test.ts:
 * merges `rows` generated rows into the state db at argv[2]; when the first
 * progress report comes (rows already written inside the transaction) it
 * prints `mid` and blocks, so the parent can SIGKILL it there. With a
 * metadir base as argv[4], its history files are merged instead, through
 * the TEMP table (mergeHistoryFiles), for test/meta/replay-table.test.ts
 * (or, into an empty state db, by the direct load: direct-load.test.ts);
 * argv[5], comma-separated, names keys to index.
 */
import { openStateDb } from '../../lib/meta/state-db.js'
import { listHistoryFiles, replaySet } from '../../lib/meta/history.js'
import { mergeHistory, mergeHistoryFiles } from '../../lib/meta/update.js'

const file = process.argv[2]
const rows = Number(process.argv[3] ?? 20000)
const base = process.argv[4]
const indexes = (process.argv[5] ?? '').split(',').filter((k) => k !== '')

function * history (): Generator<Record<string, string>> {
  for (let i = 0; i < rows; i++) yield { content_hash: `k${i}`, title: `changed ${i}` }
}

async function main (): Promise<void> {
  const state = await openStateDb(file, { unique: 'content_hash', types: {}, indexes })
  const options = {
    progressEvery: Math.floor(rows / 2),
    onProgress (): void {
      process.stdout.write('mid\n')
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000)
    }
  }
  if (base === undefined) await mergeHistory(state, history(), options)
  else await mergeHistoryFiles(state, replaySet(await listHistoryFiles(base)), options)
  state.close()
  process.stdout.write('done\n')
}

main().catch((err: unknown) => {
  process.stderr.write(String(err) + '\n')
  process.exitCode = 1
})
