/**
 * A DIR or PATTERN argument that is '-' or empty, refused as the usage
 * mistake it is. `shoebox write -` made a directory named '-' (the user
 * meant stdout: that is `encode`), `read -` said 'no archive matches -',
 * and an unset shell variable ("$DIR") read as a missing directory named
 * ''. A directory named '-' is still reached as './-'.
 */
import { usage } from './io.js'

/** `what` is what the argument is for, `stdinInstead` the command that takes stdin or gives stdout for it. */
export function checkDirArg (value: string, what: string, stdinInstead: string): void {
  if (value === '') throw usage(`'' names no ${what} (an empty argument: an unset shell variable?)`)
  if (value === '-') throw usage(`'-' is not stdin or stdout here: it would name a ${what}; ${stdinInstead} (a ${what} of that name is './-')`)
}
