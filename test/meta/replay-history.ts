/**
 * A metadir whose history takes a while to replay, for the tests that stop a
 * replay half-way (generate-signal, squash-signal), and what such a stop must
 * leave as it was.
 */
import type { Test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'
import { metaPaths } from '../../lib/meta/config.js'
import { formatCsvRow } from '../../lib/meta/csv.js'
import { tempDir } from '../temp-dir.js'

/** `files` history files, each beginning with a row with no unique key (reported and skipped), then `rows` good rows. */
export function historyWithSkippedRows (t: Test, files: number, rows: number, prefix: string): string {
  const dir = tempDir(t, prefix)
  fs.mkdirSync(metaPaths(dir).db, { recursive: true })
  fs.writeFileSync(metaPaths(dir).config, 'metadata:\n  include: [title]\n')
  for (let f = 0; f < files; f++) {
    let text = formatCsvRow(['content_hash', 'title']) + formatCsvRow(['', 'a row with no key'])
    for (let i = 0; i < rows; i++) text += formatCsvRow([`u${f}-${i}`, `title ${f} ${i}`])
    fs.writeFileSync(path.join(metaPaths(dir).db, `2026-01-01T00:00:${String(f).padStart(2, '0')}.000000.append`), text)
  }
  return dir
}

/** Everything under the metadir, relative, sorted. */
export function metadirListing (dir: string): string[] {
  return (fs.readdirSync(metaPaths(dir).metadir, { recursive: true }) as string[]).sort()
}
