/**
 * The line on stderr for a history row a replay skipped (a ragged row, no
 * unique value), said the same way by every meta command that replays the
 * history: generate, index, squash, update and dump. The file's name and the
 * reason come from history files (pulled from anyone's store): one line,
 * control characters escaped.
 */
import type { HistoryProblem } from '../../meta/history.js'
import { oneLine } from '../one-line.js'

export function skippedRowLine (p: HistoryProblem): string {
  return `${oneLine(`skipped ${p.file}: line ${p.line}: ${p.reason}`)}\n`
}
