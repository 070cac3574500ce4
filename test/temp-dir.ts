/**
 * Temporary directories for tests, under the repository's tmp/ (git ignores
 * it), not the system's: a test process that tap's timeout kills runs no
 * teardown, and what it made in /tmp stayed there for ever; here it is in
 * the checkout, seen and removed with it. test/transpile.ts keeps its trees
 * in the same place.
 *
 * A test that needs another place makes its own: another filesystem, a
 * short path (a Unix socket's is at most 107 bytes), or permissions the
 * checkout does not give. The tests that run the CLI as nobody can use these
 * (chmod 0755, as mkdtemp makes 0700): they need the checkout open to nobody
 * anyway, for its node_modules.
 */
import fs from 'node:fs'
import path from 'node:path'
import { TEST_TMP } from './transpile.js'

/** What a tap test offers that tempDir() needs (kept structural so any Test fits). */
export interface Teardown {
  teardown: (fn: () => void) => void
}

export { TEST_TMP }

/** A fresh directory (mode 0700) under the repository's tmp/, removed when the test ends. */
export function tempDir (t: Teardown, prefix = 'shoebox-'): string {
  fs.mkdirSync(TEST_TMP, { recursive: true })
  const dir = fs.mkdtempSync(path.join(TEST_TMP, prefix))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  return dir
}
