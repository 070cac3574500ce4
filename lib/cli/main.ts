/** The `shoebox` command: dispatches to one file per subcommand (bin.ts runs it). */
import { readFileSync } from 'node:fs'
import type { Writable } from 'node:stream'
import { oneLine } from './one-line.js'
import { ShoeboxError, VariableRefusedError } from '../errors.js'
import type { Command } from './command.js'
import { describeIoError, type Io } from './io.js'
import { asksForHelp, withFlags } from './options.js'
import { Interrupted, interruptedExitCode } from './interrupt.js'

/**
 * Each subcommand is imported only when it runs: `shoebox --help` and a
 * command that needs neither the codec streams nor a store start at about
 * Node's own speed. The summaries are repeated here for the main help,
 * which must not load every command (test/cli/cli-main.test.ts checks they match).
 */
interface CommandEntry {
  name: string
  summary: string
  load: () => Promise<Command>
}

export const commands: readonly CommandEntry[] = [
  { name: 'encode', summary: 'NDJSON on stdin to an archive on stdout', load: async () => (await import('./encode.js')).encodeCommand },
  { name: 'decode', summary: 'archives to NDJSON on stdout', load: async () => (await import('./decode.js')).decodeCommand },
  { name: 'verify', summary: 'check archives end to end; exit 1 on any damage', load: async () => (await import('./verify.js')).verifyCommand },
  { name: 'write', summary: 'NDJSON on stdin into rolling archive files', load: async () => (await import('./write.js')).writeCommand },
  { name: 'read', summary: 'archives matching a glob, as one NDJSON stream', load: async () => (await import('./read.js')).readCommand },
  { name: 'ls', summary: 'list archives with records, bytes and times', load: async () => (await import('./ls.js')).lsCommand },
  {
    name: 'recover',
    summary: 'seal the temporary files crashed writers left in a directory',
    load: async () => (await import('./recover.js')).recoverCommand
  },
  { name: 'upload', summary: 'upload files to a store, verified', load: async () => (await import('./upload.js')).uploadCommand },
  {
    name: 'multipart',
    summary: 'list the multipart uploads left open under an s3:// URL; abort old ones',
    load: async () => (await import('./multipart.js')).multipartCommand
  },
  { name: 'pack', summary: 'a directory of files into a few large archives in a store', load: async () => (await import('./pack.js')).packCommand },
  {
    name: 'unpack',
    summary: 'the files of packed archives back into a directory',
    load: async () => (await import('./unpack.js')).unpackCommand
  },
  {
    name: 'events',
    summary: 'read, delete and describe events on a Kronos server (shoebox serve or Kronos)',
    load: async () => (await import('./events.js')).eventsCommand
  },
  { name: 'meta', summary: 'an mmmeta-compatible metadir: meta db history, state db, typed store', load: async () => (await import('./meta.js')).metaCommand },
  { name: 'ship', summary: 'NDJSON events on stdin to a Kronos-protocol server', load: async () => (await import('./ship.js')).shipCommand },
  { name: 'serve', summary: 'a Kronos-compatible event server on a local event store', load: async () => (await import('./serve.js')).serveCommand }
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
    "Run 'shoebox <command> --help' for a command's options, 'shoebox --version' for the version."
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
  const entry = commands.find((c) => c.name === name)
  if (entry === undefined) {
    io.stderr.write(`shoebox: unknown command '${name}' (try 'shoebox --help')\n`)
    return 2
  }
  const command = await entry.load()
  if (command.reportsOnStdout === true) io.stdoutIsReport = true
  if (command.group !== true && asksForHelp(rest)) {
    // Loaded only to print a help, not by every command's start.
    const { alignOptions } = await import('./help-columns.js')
    io.stdout.write(alignOptions(command.help) + '\n')
    return 0
  }
  const shown = command.typedName?.(rest) ?? command.name
  // A write to stdout that fails (a full disk under `> out.ndjson`, /dev/full, an I/O error) is an 'error'
  // event on it, which commands printing line by line (ls, verify, upload) never see, and which a command's
  // last writes, still queued when it returns, raise after it: the output was cut and the exit was 0.
  // It is kept here, and the run fails naming stdout once its writes have settled.
  // Only a write's own failure: a pipeline also destroys stdout with the error of another stage (damaged input).
  let outFailure: unknown
  const onOutError = (err: unknown): void => { if ((err as NodeJS.ErrnoException | undefined)?.syscall === 'write') outFailure ??= err }
  io.stdout.on('error', onOutError)
  const outLine = (): string => `shoebox ${shown}: cannot write stdout: ${oneLine(describeIoError(outFailure))}; the output is incomplete\n`
  try {
    const code = await withFlags(async () => await command.run(rest, io), command.flags ?? {})
    await settled(io.stdout)
    if (outFailure === undefined || isBrokenPipe(outFailure)) return code
    io.stderr.write(outLine())
    return code === 0 ? 1 : code
  } catch (err) {
    if (isBrokenPipe(err)) return 0
    if (err === outFailure) {
      io.stderr.write(outLine())
      return 1
    }
    if (err instanceof ShoeboxError) {
      io.stderr.write(`shoebox ${shown}: ${oneLine(err.message)}\n`)
      if (err.code === 'SHOEBOX_USAGE') {
        // A refused environment variable's line says what it takes: no "(try 'shoebox X --help')" under it, since a
        // command's help lists flags, which cannot fix a setting of the environment (VariableRefusedError).
        if (!(err instanceof VariableRefusedError)) io.stderr.write(`(try 'shoebox ${shown} --help')\n`)
        return 2
      }
      return err instanceof Interrupted ? interruptedExitCode(err.signal) : 1
    }
    const code = (err as NodeJS.ErrnoException).code
    if (typeof code === 'string') {
      io.stderr.write(`shoebox ${shown}: ${oneLine(describeIoError(err))}\n`)
      return 1
    }
    io.stderr.write(`shoebox ${shown}: internal error: ${(err as Error).stack ?? String(err)}\n`)
    return 1
  }
}

/**
 * Resolves once every write given to `out` so far has completed or failed. Polled, not waited for with an
 * empty write of its own: that one, queued after the command ended stdout (a pipeline does), met the reader
 * gone (EPIPE) or came after the end; and a write pending on a stdout pipe does not keep the process alive.
 * The failure of a write that has completed is emitted a tick later, hence the first wait.
 */
async function settled (out: Writable): Promise<void> {
  for (;;) {
    if (out.writableLength === 0) await new Promise<void>((resolve) => { setImmediate(resolve) })
    else await new Promise<void>((resolve) => { setTimeout(resolve, 10) })
    if (out.destroyed || out.writableFinished || out.writableLength === 0) return
  }
}

/** A reader that went away (e.g. `| head`) is not a failure of ours. */
function isBrokenPipe (err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE'
}
