/**
 * File names from a template: strftime fields (UTC) plus {tokens}.
 *
 *   %Y year  %m month  %d day  %H hour  %M minute  %S second  %f microseconds (6 digits)
 *   %j day of year  %y 2-digit year  %s epoch seconds  %X %H_%M_%S  %F %Y-%m-%d
 *   %c date and time as in ctime ('Sat_Feb__1_10_11_12_2014', as the original wrote it)
 *   %%  a percent sign
 *   {seq} per-writer sequence, 6 digits   {host} host name   {pid} process id
 *
 * Characters that cannot be in a file name (/, \, :, space, NUL) are replaced by '_',
 * as the original shoebox did, so no template can escape its directory.
 */
import os from 'node:os'
import { invalidOption } from '../errors.js'

export const DEFAULT_TEMPLATE = '%Y%m%dT%H%M%S%fZ-{host}-{pid}-{seq}.shoebox'

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

export interface TemplateContext {
  /** Time of the file's opening, in ms since the epoch. */
  now: number
  /** Extra microseconds below the millisecond (0-999), for %f. */
  micros?: number
  seq: number
  host?: string
  pid?: number
}

function pad (n: number, width: number): string {
  return String(n).padStart(width, '0')
}

function dayOfYear (d: Date): number {
  return Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1
}

function field (letter: string, d: Date, micros: number): string | undefined {
  switch (letter) {
    case 'Y': return pad(d.getUTCFullYear(), 4)
    case 'y': return pad(d.getUTCFullYear() % 100, 2)
    case 'm': return pad(d.getUTCMonth() + 1, 2)
    case 'd': return pad(d.getUTCDate(), 2)
    case 'H': return pad(d.getUTCHours(), 2)
    case 'M': return pad(d.getUTCMinutes(), 2)
    case 'S': return pad(d.getUTCSeconds(), 2)
    case 'f': return pad(d.getUTCMilliseconds() * 1000 + micros, 6)
    case 'j': return pad(dayOfYear(d), 3)
    case 's': return String(Math.floor(d.getTime() / 1000))
    case 'X': return `${field('H', d, micros)}:${field('M', d, micros)}:${field('S', d, micros)}`
    case 'F': return `${field('Y', d, micros)}-${field('m', d, micros)}-${field('d', d, micros)}`
    case 'c': return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ` +
      `${field('X', d, micros)} ${d.getUTCFullYear()}`
    case '%': return '%'
    default: return undefined
  }
}

/** Check a template once, at construction: unknown fields and tokens are errors, not surprises. */
export function checkTemplate (template: string): void {
  if (typeof template !== 'string' || template === '') throw invalidOption('template', 'must be a non-empty string')
  // '../x-%Y' became the name '.._x-2026': a dotfile, which readers' globs skip and writers use for temporary files.
  if (template.startsWith('.')) throw invalidOption('template', `'${template}' starts with '.': its files would be hidden (readers skip dotfiles)`)
  const probe = Date.UTC(2000, 0, 1)
  for (const m of template.matchAll(/%(.)|\{([^}]*)\}/g)) {
    if (m[1] !== undefined && field(m[1], new Date(probe), 0) === undefined) {
      throw invalidOption('template', `unknown field %${m[1]} in '${template}'`)
    }
    if (m[2] !== undefined && !['seq', 'host', 'pid'].includes(m[2])) {
      throw invalidOption('template', `unknown token {${m[2]}} in '${template}' (known: {seq}, {host}, {pid})`)
    }
  }
  if (/%$/.test(template.replace(/%%/g, ''))) throw invalidOption('template', `'${template}' ends with a lone %`)
}

/** Expand a template into a file name (a single path segment). */
export function expandTemplate (template: string, ctx: TemplateContext): string {
  const d = new Date(ctx.now)
  const micros = ctx.micros ?? 0
  const name = template.replace(/%(.)|\{([^}]*)\}/g, (whole, letter: string | undefined, token: string | undefined) => {
    if (letter !== undefined) return field(letter, d, micros) ?? whole
    switch (token) {
      case 'seq': return pad(ctx.seq, 6)
      case 'host': return ctx.host ?? os.hostname()
      case 'pid': return String(ctx.pid ?? process.pid)
      default: return whole
    }
  })
  const safe = name.replace(/[/\\: \0]/g, '_')
  return safe === '.' || safe === '..' ? safe.replace(/\./g, '_') : safe
}
