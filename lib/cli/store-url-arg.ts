/** A store URL given on the command line, checked before any work. */
import { checkStoreUrl } from '../store/store-url.js'
import { asUsage } from './options.js'

/**
 * A store URL, directory or glob over one, as given on the command line,
 * checked before any work: one that names no store (gs://..., s3://Bad_Name,
 * file://host/x) is a usage error, exit 2, as a bad server URL is for ship
 * and events.
 */
export function storeUrlArg (url: string): string {
  asUsage(() => { checkStoreUrl(url) })
  return url
}
