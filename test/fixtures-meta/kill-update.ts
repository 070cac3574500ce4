/**
 * Run update-child.ts with `args` (state db file, row count, ...) and
 * SIGKILL it once it says it is in the middle of its update's transaction.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { transpiledOnce } from '../transpile.js'

export async function killUpdateMidway (args: string[]): Promise<void> {
  const child = spawn(process.execPath, [transpiledOnce(fileURLToPath(new URL('./update-child.ts', import.meta.url))), ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8')
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: string) => {
      out += d
      if (out.includes('mid')) resolve()
    })
    child.on('exit', () => { reject(new Error(`child exited before mid: ${out}`)) })
  })
  child.kill('SIGKILL')
  await once(child, 'close')
}
