/**
 * pack()'s and unpack()'s callbacks may be async: one that rejects fails the
 * pack or the unpack with its own error. Each was an unhandled rejection,
 * which ends the process (Node's default), while the pack went on.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { pack, unpack } from '../../lib/index.js'
import { withoutUnhandled } from '../helpers.js'

function tree (t: Test): { src: string, to: string, root: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-pack-callback-'))
  t.teardown(() => { fs.rmSync(root, { recursive: true, force: true }) })
  const src = path.join(root, 'src')
  fs.mkdirSync(src)
  fs.writeFileSync(path.join(src, 'a.txt'), 'a')
  fs.writeFileSync(path.join(src, 'b.txt'), 'b'.repeat(2 << 20)) // over a megabyte: a progress report
  fs.symlinkSync('a.txt', path.join(src, 'link')) // skipped
  return { src, to: path.join(root, 'archives'), root }
}

for (const callback of ['onSkip', 'onProgress', 'onSealed', 'onUpload'] as const) {
  t.test(`pack(): an async ${callback} that rejects fails the pack with its error`, async (t) => {
    const { src, to } = tree(t)
    const failure = new Error(`${callback} failed`)
    await withoutUnhandled(t, async () => {
      await t.rejects(pack(src, { to, [callback]: async () => { throw failure } }), { message: new RegExp(`^${callback} failed`) })
    })
  })
}

t.test('unpack(): an async onFile that rejects fails the unpack with its error', async (t) => {
  const { src, to, root } = tree(t)
  await pack(src, { to })
  await withoutUnhandled(t, async () => {
    await t.rejects(unpack(path.join(to, '*.shoebox'), { out: path.join(root, 'out'), onFile: async () => { throw new Error('onFile failed') } }), { message: /^onFile failed/ })
  })
})
