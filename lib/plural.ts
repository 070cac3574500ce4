/**
 * plural(): a count and its noun, agreeing: '1 event', '2 events', '0 events'.
 * Every line that counts things (summaries, give-up lines, error details)
 * builds its counts with this, so none says '1 events'.
 */
export function plural (count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`
}
