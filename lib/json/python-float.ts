/** Floats as Python prints them, for text that Python programs (Kronos, mmmeta) wrote and read. */

/**
 * Python's repr() of a float. The digits are the shortest that read back,
 * as JS's, but the form differs: Python switches to an exponent from 1e16
 * up and below 1e-4 (JS from 1e21 and below 1e-6), writes it with a sign
 * and at least two digits (1e-07), keeps the sign of -0.0, and ends a
 * whole number with .0. Python 3's str() is the same. Kronos names a
 * client's float time (1.7651234567891234e+16) so in InvalidEventTime, and
 * mmmeta writes a float store value so.
 */
export function pythonFloatRepr (x: number): string {
  if (Number.isNaN(x)) return 'nan'
  if (x === Infinity) return 'inf'
  if (x === -Infinity) return '-inf'
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0'
  const sign = x < 0 ? '-' : ''
  // toExponential() without digits: the shortest digits that read back, d.ddde±x
  const [mantissa, expText] = Math.abs(x).toExponential().split('e')
  const exp = Number(expText)
  if (exp >= 16 || exp < -4) return `${sign}${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`
  const digits = mantissa.replace('.', '')
  const point = exp + 1 // digits before the decimal point
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`
}
