/**
 * A directory a command writes in, given as a URL, is a usage error: `shoebox write s3://bucket/events` wrote its
 * files into ./s3:/bucket/events and exited 0, as if they had gone to the bucket; `unpack --out file:///restore`
 * restored into ./file:/restore; `serve --data s3://...` served a directory made here. Each is refused, exit 2,
 * nothing made, the line saying what to give instead. Real processes in a directory of their own: what they would
 * have made is seen there.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { cliBinary, cliEnv } from '../fixtures-s3/cli-build.js'
import { tempDir } from '../temp-dir.js'

interface Ran { code: number | null, stdout: string, stderr: string }

/** The CLI in `cwd`; one that prints on stdout is a server that started (a URL taken as its --data): stopped, and failed on. */
async function shoebox (cwd: string, args: string[], stdin = ''): Promise<Ran> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliBinary(), ...args], { cwd, env: cliEnv() })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString()
      if (args[0] === 'serve') child.kill('SIGKILL')
    })
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    child.on('error', reject)
    child.on('close', (code) => { resolve({ code, stdout, stderr }) })
    child.stdin.on('error', () => {})
    child.stdin.end(stdin)
  })
}

t.test('write DIR, unpack --out, serve --data and recover DIR given a URL: refused, nothing made here', async (t) => {
  const cwd = tempDir(t, 'cli-url-dir-')
  const archives = path.join(cwd, 'archives')
  fs.mkdirSync(archives)
  const cases: Array<[string[], string]> = [
    [['write', 's3://bucket/events'], "shoebox write: DIR s3://bucket/events is a URL, not a local directory (it names a directory 's3:' here); " +
      "to upload the files, write into a local DIR with --to s3://bucket/events (a directory of that name is './s3://bucket/events')"],
    [['write', 'file:///tmp/events'], "shoebox write: DIR file:///tmp/events is a URL, not a local directory (it names a directory 'file:' here); " +
      "give it as a path, not a URL; to upload the files, write into a local DIR with --to file:///tmp/events (a directory of that name is './file:///tmp/events')"],
    [['unpack', `${archives}/*`, '--out', 'file:///restore'], "shoebox unpack: --out file:///restore is a URL, not a local directory (it names a directory 'file:' here); " +
      "give it as a path, not a URL; unpack restores the files onto local disk (a directory of that name is './file:///restore')"],
    [['serve', '--port', '0', '--data', 's3://bucket/events'], "shoebox serve: --data s3://bucket/events is a URL, not a local directory (it names a directory 's3:' here); " +
      "a store the server's runs go to is --store s3://bucket/events (a directory of that name is './s3://bucket/events')"],
    [['recover', 'S3://bucket/events'], "shoebox recover: DIR S3://bucket/events is a URL, not a local directory (it names a directory 'S3:' here); " +
      "recover seals the temporary files in a local directory (a directory of that name is './S3://bucket/events')"]
  ]
  for (const [args, line] of cases) {
    const r = await shoebox(cwd, args, '{"a":1}\n')
    t.same([r.code, r.stdout, r.stderr.split('\n')[0]], [2, '', line], args.join(' '))
  }
  t.same(fs.readdirSync(cwd), ['archives'], 'no s3: or file: directory made')
  t.same(fs.readdirSync(archives), [], 'nothing written among the archives')

  // A directory of such a name, spelt as a path, is still one.
  const written = await shoebox(cwd, ['write', './s3://bucket/events'], '{"a":1}\n')
  t.equal(written.code, 0, written.stderr)
  t.equal(fs.readdirSync(path.join(cwd, 's3:', 'bucket', 'events')).length, 1, 'one file sealed in ./s3:/bucket/events')
})
