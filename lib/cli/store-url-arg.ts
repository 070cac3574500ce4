/** A store URL given on the command line, checked before any work. */
import { checkEndpointVariable } from '../store/s3-config.js'
import type { StoreOptions } from '../store/open-store.js'
import { checkStoreUrl, schemeOf } from '../store/store-url.js'
import { asUsage } from './options.js'

/**
 * A store URL, directory or glob over one, as given on the command line,
 * checked before any work: one that names no store (gs://..., s3://Bad_Name,
 * file://host/x) is a usage error, exit 2, as a bad server URL is for ship
 * and events. So is a malformed SHOEBOX_S3_ENDPOINT where the URL is s3://
 * and `storeOptions` (the command's flags) give no --endpoint: a setting the
 * user gave, refused where the command needs it (it was exit 1 where the
 * store met it at its first request, 2 in write and serve). A command that
 * opens no S3 store never reads the variable.
 */
export function storeUrlArg (url: string, storeOptions: StoreOptions): string {
  asUsage(() => {
    checkStoreUrl(url)
    if (schemeOf(url) === 's3' && storeOptions.endpoint === undefined) checkEndpointVariable()
  })
  return url
}
