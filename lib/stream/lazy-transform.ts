/**
 * LazyTransform: readable-stream's Transform, loaded when the first stream
 * built on it is constructed rather than when the package is imported.
 *
 * Why: the format stages (encode(), decode(), encodeNdjson(),
 * RecordsToNdjson) are readable-stream Transforms, so they behave the same on
 * every Node version shoebox supports; but readable-stream is ~28 CommonJS
 * files, and loading them alone costs about 1.4x Node's own start
 * (bench/startup.js), the whole of the import budget (<= 1.5x). A program
 * that imports shoebox for pack(), a store or the CLI's --help never needs it.
 *
 * How: subclasses extend this placeholder. Constructing one calls it as the
 * super constructor; the first call requires readable-stream (synchronously,
 * CommonJS) and puts its Transform under the placeholder, once: the
 * placeholder's prototype then inherits Transform.prototype (so methods,
 * `instanceof Transform` and `super.x` resolve as if declared directly), and
 * the instance is built by Transform's own constructor with the subclass as
 * new.target. Nothing changes for a stream once it exists.
 */
import { createRequire } from 'node:module'
import type { Transform, TransformOptions } from 'readable-stream'

type TransformClass = typeof Transform

let loaded: TransformClass | undefined

/** readable-stream's Transform, required on first use and linked under LazyTransform. */
function transformClass (): TransformClass {
  if (loaded === undefined) {
    const { Transform: RealTransform } = createRequire(import.meta.url)('readable-stream') as { Transform: TransformClass }
    Object.setPrototypeOf(LazyTransformFunction.prototype, RealTransform.prototype)
    Object.setPrototypeOf(LazyTransformFunction, RealTransform)
    loaded = RealTransform
  }
  return loaded
}

function LazyTransformFunction (this: unknown, options?: TransformOptions): Transform {
  if (new.target === undefined) throw new TypeError('LazyTransform must be called with new')
  return Reflect.construct(transformClass(), [options], new.target) as Transform
}

/** Extend this as you would readable-stream's Transform. */
export const LazyTransform = LazyTransformFunction as unknown as TransformClass
