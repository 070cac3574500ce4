/**
 * A scratch directory named for the process that made it:
 * `<prefix><host>~<writer>~<6 hex>` (the writer, its pid and start:
 * names.ts), e.g. pack's staging directories and a read-only event store's
 * scratch runs, both under TMPDIR. A process killed outright (SIGKILL, the
 * OOM killer) removes nothing; the name lets the next one of its kind find
 * what a dead process left (deadWriterDirs) and never a live one's.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { doneWritingTemp, hostName, leftByDeadWriter, writerTag, writingTemp } from './names.js'

/**
 * Make this process's directory `<prefix><host>~<writer>~XXXXXX` in
 * `parent` (mode 0700), registered (writingTemp) before it exists, so that a
 * sweep by this process leaves it: a pid comes back (a container's command
 * is pid 1 every run), and this process's own pid in the name says a live
 * owner only for a directory it registered. Not mkdtemp(), whose name is
 * known only once the directory exists. Its remover calls doneWritingTemp().
 */
export async function makeWriterDir (parent: string, prefix: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const dir = path.join(parent, `${prefix}${hostName()}~${writerTag()}~${randomBytes(3).toString('hex')}`)
    writingTemp(dir)
    try {
      await fs.mkdir(dir, { mode: 0o700 })
      return dir
    } catch (err) {
      doneWritingTemp(dir)
      // Taken (one in 16 million, per directory of this pid there): another name.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt === 100) throw err
    }
  }
}

/**
 * The directories `<prefix>...` in `parent` whose maker, on this host, is
 * gone (its pid not running, or running a process that started otherwise;
 * this process's own pid, when it did not register the directory). One
 * named the older way (`<prefix>XXXXXX`, mkdtemp()) names no process: it is
 * not among them. None where `parent` cannot be listed.
 */
export async function deadWriterDirs (parent: string, prefix: string): Promise<string[]> {
  const names = await fs.readdir(parent).catch(() => [] as string[])
  const dead: string[] = []
  for (const name of names) {
    if (!name.startsWith(prefix)) continue
    const m = /^(.+)~([^~]+)~[^~]{6}$/.exec(name.slice(prefix.length))
    const dir = path.join(parent, name)
    if (m !== null && leftByDeadWriter(dir, m[1], m[2])) dead.push(dir)
  }
  return dead
}
