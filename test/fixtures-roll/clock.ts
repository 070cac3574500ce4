/**
 * A preload (`node --import clock.js ...`) that gives a child process a clock
 * the test sets: Date.now() returns the number (ms since the epoch) written
 * in the file SHOEBOX_TEST_CLOCK_FILE, read at each call. The test moves time
 * by rewriting the file, so age rolls are decided by the clock the test
 * chose, not by how fast a loaded machine runs the child.
 */
import fs from 'node:fs'

const file = process.env.SHOEBOX_TEST_CLOCK_FILE
if (file === undefined || file === '') throw new Error('clock.ts: set SHOEBOX_TEST_CLOCK_FILE')

Date.now = () => {
  const now = Number(fs.readFileSync(file, 'utf8'))
  if (!Number.isFinite(now)) throw new Error(`clock.ts: ${file} holds no number`)
  return now
}
