/** What each subcommand file exports. */
import type { Io } from './io.js'

export interface Command {
  name: string
  summary: string
  help: string
  /** A group of subcommands (command-group.ts): it answers `--help` itself, at either level. */
  group?: boolean
  /**
   * The command as the user typed it, given the arguments after its name: a
   * group's is 'events get' for `shoebox events get ...`. Every line main()
   * prints for it starts with this, and its usage hint names it. Default: `name`.
   */
  typedName? (argv: readonly string[]): string
  /**
   * The CLI flag of each API option that the library's messages it passes on
   * name ({ overwrite: '--overwrite' }): main() and a group say the flag in
   * the error line (options.ts withFlags).
   */
  flags?: Readonly<Record<string, string>>
  /**
   * Its stdout reports work that changes things (upload's line per file, recover's, multipart's aborts, meta
   * push's and pull's copies, serve's address), not the command's data: a reader of it that goes away
   * (`| head -1`, a log reader that dies) must not end the work, which ended at once with exit 0, files not
   * uploaded and a multipart upload left open. The work goes on, its remaining lines unwritten, and the exit is
   * the work's. A command whose stdout is its data (read, decode, query) stops then, exit 0 (bin.ts).
   */
  reportsOnStdout?: boolean
  /** Runs the command; resolves to the exit code. Throws ShoeboxError for one-line failures. */
  run (argv: string[], io: Io): Promise<number>
}
