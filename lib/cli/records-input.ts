/**
 * What `write --records` and `encode --records` share: the flags that do not go with it, and the hint either
 * prints when its input looks like `shoebox read`'s output and --records was not given (encodeNdjson's
 * 'recordLines' event).
 */
import { usage } from './io.js'

/** The line said once on stderr; the write goes on as asked (such lines may be meant as payloads). */
export const recordLinesHint = "stdin's first line looks like shoebox read's output ({\"metadata\":...}): each line is " +
  "stored whole as one record's payload, the metadata it gives not as metadata; --records writes each back as the record it was"

/** --meta, --meta-from-field and --validate with --records: a usage error, as each would change or repeat what the line says. */
export function refuseWithRecords (values: { meta?: unknown, 'meta-from-field'?: unknown, validate?: unknown }): void {
  const given = [values.meta !== undefined && '--meta', values['meta-from-field'] !== undefined && '--meta-from-field', values.validate === true && '--validate']
    .filter((flag): flag is string => flag !== false)
  if (given.length > 0) {
    throw usage(`--records and ${given.join(', ')}: choose one (with --records each record keeps the metadata its line gives, and every line is checked)`)
  }
}
