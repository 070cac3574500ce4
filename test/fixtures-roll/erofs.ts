/**
 * A preload (`node --import erofs.js ...`) that makes the files whose path
 * SHOEBOX_TEST_EROFS_FILES (a regular expression) matches sit on a read-only
 * mount: opening one for writing, writeFile and truncating one fail with a real-shaped
 * EROFS error, as a remount read-only makes them (reading still works).
 * Tests must not mount; root ignores permission bits, so chmod cannot stand in.
 */
import fs from 'node:fs/promises'

const readOnly = new RegExp(process.env.SHOEBOX_TEST_EROFS_FILES ?? '(?!)')

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
