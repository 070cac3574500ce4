/**
 * A preload (`node --import erofs.js ...`) that makes the files whose path
 * SHOEBOX_TEST_EROFS_FILES (a regular expression) matches sit on a read-only
 * mount: opening one for writing, writeFile (promised or synchronous) and truncating one fail with a real-shaped
 * EROFS error, as a remount read-only makes them (reading still works).
 * SHOEBOX_TEST_EROFS_REMOVALS (a regular expression) makes removing the
 * files it matches fail so (rm, unlink, rename away), as on a mount remounted
 * read-only after they were written (ext4's errors=remount-ro).
 * Tests must not mount; root ignores permission bits, so chmod cannot stand in.
 */
import fsSync from 'node:fs'
import fs from 'node:fs/promises'

const readOnly = new RegExp(process.env.SHOEBOX_TEST_EROFS_FILES ?? '(?!)')
const fixed = new RegExp(process.env.SHOEBOX_TEST_EROFS_REMOVALS ?? '(?!)')

function erofs (syscall: string, file: unknown): NodeJS.ErrnoException {
  return Object.assign(new Error(`EROFS: read-only file system, ${syscall} '${String(file)}'`), { code: 'EROFS', errno: -30, syscall, path: String(file) })
}

const open = fs.open
fs.open = async function (...args: Parameters<typeof fs.open>) {
  const flags = args[1] ?? 'r'
  if (readOnly.test(String(args[0])) && flags !== 'r') throw erofs('open', args[0])
  return await open.apply(fs, args)
}
const truncate = fs.truncate
fs.truncate = async function (...args: Parameters<typeof fs.truncate>) {
  if (readOnly.test(String(args[0]))) throw erofs('open', args[0])
  return await truncate.apply(fs, args)
}
const writeFile = fs.writeFile
fs.writeFile = async function (...args: Parameters<typeof fs.writeFile>) {
  if (readOnly.test(String(args[0]))) throw erofs('open', args[0])
  return await writeFile.apply(fs, args)
}
const writeFileSync = fsSync.writeFileSync
fsSync.writeFileSync = function (...args: Parameters<typeof fsSync.writeFileSync>) {
  if (readOnly.test(String(args[0]))) throw erofs('open', args[0])
  writeFileSync.apply(fsSync, args)
}
const openSync = fsSync.openSync
fsSync.openSync = function (...args: Parameters<typeof fsSync.openSync>) {
  const flags = args[1] ?? 'r'
  if (readOnly.test(String(args[0])) && flags !== 'r') throw erofs('open', args[0])
  return openSync.apply(fsSync, args)
}
for (const name of ['rm', 'unlink'] as const) {
  const remove = fs[name] as (...args: unknown[]) => Promise<void>
  ;(fs as Record<string, unknown>)[name] = async function (...args: unknown[]) {
    if (fixed.test(String(args[0]))) throw erofs(name === 'rm' ? 'unlink' : name, args[0])
    await remove.apply(fs, args)
  }
}
const rename = fs.rename
fs.rename = async function (...args: Parameters<typeof fs.rename>) {
  if (fixed.test(String(args[0])) || readOnly.test(String(args[1]))) throw erofs('rename', args[0])
  await rename.apply(fs, args)
}
