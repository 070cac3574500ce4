/** shoebox meta pull URL: copy a metadir from a store (defined with push, in push.ts). */
import { syncCommand } from './push.js'

export const pullCommand = syncCommand('pull')
