/** directoryStoreAt(): the one check the uploader and `shoebox upload` share, that a directory store is not the files' own directory. */
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { directoryStoreAt } from '../../lib/fs/real-path.js'
import { FileStore } from '../../lib/store/file-store.js'
import { tempDir } from '../temp-dir.js'

t.test('a directory store at the directory, by any name, gives its root; another directory or store, undefined', async (t) => {
  const base = tempDir(t)
  const dir = path.join(base, 'logs')
  fs.mkdirSync(dir)
  fs.symlinkSync(dir, path.join(base, 'alias'))
  const store = new FileStore(dir)
  t.equal(directoryStoreAt(store, dir), dir)
  t.equal(directoryStoreAt(store, path.join(base, 'alias')), dir, 'through a symbolic link')
  t.equal(directoryStoreAt(store, path.join(dir, 'sub', '..')), dir, 'with ..')
  t.equal(directoryStoreAt(new FileStore(path.join(base, 'alias')), dir), path.join(base, 'alias'), 'a store named through the link')
  t.equal(directoryStoreAt(store, base), undefined, 'another directory')
  t.equal(directoryStoreAt(new FileStore(path.join(base, 'not-yet')), path.join(base, 'not-yet')), path.join(base, 'not-yet'), 'one not made yet')
  t.equal(directoryStoreAt({ url: 's3://b/logs' }, dir), undefined, 'a store without a root')
})
