/** The `shoebox` command: dispatches to one file per subcommand (bin.ts runs it). */
import { readFileSync } from 'node:fs'
import { ShoeboxError } from '../errors.js'
import type { Command } from './command.js'
import { decodeCommand } from './decode.js'
import { encodeCommand } from './encode.js'
import { describeIoError, type Io } from './io.js'
import { verifyCommand } from './verify.js'
import { writeCommand } from './write.js'
import { readCommand } from './read.js'
import { recoverCommand } from './recover.js'
import { lsCommand } from './ls.js'
import { uploadCommand } from './upload.js'
import { packCommand } from './pack.js'
import { unpackCommand } from './unpack.js'

const commands: Command[] = [
  encodeCommand, decodeCommand, verifyCommand, writeCommand, readCommand, lsCommand, recoverCommand, uploadCommand,
  packCommand, unpackCommand
]

function version (): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

function mainHelp (): string {
  const width = Math.max(...commands.map((c) => c.name.length))
  return [
    'Usage: shoebox <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'shoebox <command> --help' for a command's options."
  ].join('\n')
}

/** Run the CLI; resolves to the exit code. Every failure becomes one line on stderr. */
export async function main (argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    io.stdout.write(mainHelp() + '\n')
    return name === undefined ? 2 : 0
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(version() + '\n')
    return 0
  }
  const command = commands.find((c) => c.name === name)
  if (command === undefined) {
    io.stderr.write(`shoebox: unknown command '${name}' (try 'shoebox --help')\n`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(command.help + '\n')
    return 0
  }
  try {
    return await command.run(rest, io)
  } catch (err) {
    if (isBrokenPipe(err)) return 0
    if (err instanceof ShoeboxError) {
      io.stderr.write(`shoebox ${command.name}: ${err.message}\n`)
      if (err.code === 'SHOEBOX_USAGE') {
        io.stderr.write(`(try 'shoebox ${command.name} --help')\n`)
        return 2
      }
      return 1
    }
    const code = (err as NodeJS.ErrnoException).code
    if (typeof code === 'string') {
      io.stderr.write(`shoebox ${command.name}: ${describeIoError(err)}\n`)
      return 1
    }
    io.stderr.write(`shoebox ${command.name}: internal error: ${(err as Error).stack ?? String(err)}\n`)
    return 1
  }
}

/** A reader that went away (e.g. `| head`) is not a failure of ours. */
function isBrokenPipe (err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE'
}
