/**
 * What recovery did with one file, as one line: `shoebox recover` prints it,
 * and `shoebox write` when it recovers a dead writer's file before it starts.
 * Its own module: write loads it at start, and recovery's modules only when
 * there is something to recover (test/startup-lazy.test.ts).
 */
import type { RecoveredFile } from '../roll/recover.js'
import { plural } from '../plural.js'
import { oneLine } from './one-line.js'

export function recoveredLine (r: RecoveredFile): string {
  return oneLine(`recovered ${r.temp} -> ${r.path ?? '(nothing readable; removed)'}: ${plural(r.records, 'record')} kept, ${plural(r.bytesDropped, 'byte')} dropped${r.damaged ? ', damage inside (see shoebox verify)' : ''}${r.tooLarge === undefined ? '' : `; kept whole after them: ${r.tooLarge}`}`)
}
