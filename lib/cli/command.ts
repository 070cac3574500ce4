/** What each subcommand file exports. */
import type { Io } from './io.js'

export interface Command {
  name: string
  summary: string
  help: string
  /** A group of subcommands (command-group.ts): it answers `--help` itself, at either level. */
  group?: boolean
  /** Runs the command; resolves to the exit code. Throws ShoeboxError for one-line failures. */
  run (argv: string[], io: Io): Promise<number>
}
