/**
 * Fail a Transform only once its consumer has taken what was already pushed.
 * Calling back with an error destroys the stream, and with it any output
 * still buffered: records decoded before the damage, lines encoded before a
 * bad one. Waiting for the readable side to drain hands those on first.
 * A rare path, so a light poll beats deeper stream surgery.
 */
import type { TransformCallback } from 'node:stream'
import type { Transform } from 'readable-stream'

export function failAfterDrain (stream: Transform, err: Error, callback: TransformCallback): void {
  // readableFlowing null: no consumer was ever attached, so nothing waits for that output.
  if (stream.readableLength === 0 || stream.destroyed || stream.readableFlowing === null) {
    callback(err)
    return
  }
  setTimeout(() => { failAfterDrain(stream, err, callback) }, 2)
}
