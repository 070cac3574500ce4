/**
 * An async listener that rejects fails the stream it listens to, with its
 * own error, as a listener that throws does, rather than end the process
 * with an unhandled rejection (Node's default since 15). The README's own
 * 'sealed' example is an async listener: a rename that failed there ended
 * the ETL job while the pipeline resolved as if nothing had happened.
 *
 * Every stream whose events users listen to ('sealed', 'file', 'corrupt',
 * 'invalid', 'progress', pack()'s onSkip ...) is declared as
 * `class X extends failsOnListenerRejection(Writable)`: the class in
 * between turns on Node's `captureRejections` (an EventEmitter option, so it
 * must reach the stream's constructor) and handles what it captures
 * (captureRejectionSymbol). Both node:stream and readable-stream classes
 * (LazyTransform too) take it. The rolling sink's 'sealed', 'recover' and
 * 'upload' listeners and archiveSource's per-file ones are also awaited:
 * stream/awaited-listeners.ts.
 */
import { captureRejectionSymbol } from 'node:events'

/** What node:stream and readable-stream streams both offer. */
interface Destroyable {
  readonly destroyed: boolean
  readonly errored: unknown
  destroy: (error?: Error) => unknown
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- TypeScript's rule for a mixin: its base takes (...args: any[])
type StreamClass = new (...args: any[]) => Destroyable

/**
 * `Base` (a stream class whose first constructor argument is its options),
 * with captureRejections on and a listener's rejection failing the stream.
 * Typed as `Base`: what it adds is Node's business, not the class's API.
 */
export function failsOnListenerRejection<Base extends StreamClass> (base: Base): Base {
  return class FailsOnListenerRejection extends base {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as StreamClass
    constructor (...args: any[]) {
      const [options, ...rest] = args
      // Typed through `object`: @types/node's stream options do not list EventEmitter's captureRejections.
      super({ ...options, captureRejections: true } as object, ...rest)
    }

    /**
     * A listener's rejection: the stream fails with it. One that comes after
     * the stream failed (another listener's, say) is dropped: that failure is
     * reported already. One that comes after the stream ended cleanly is left
     * unhandled, as without captureRejections, rather than dropped unseen.
     */
    [captureRejectionSymbol] (err: unknown): void {
      if (!this.destroyed) this.destroy(err as Error)
      else if (this.errored == null) void Promise.reject(err)
    }
  }
}
