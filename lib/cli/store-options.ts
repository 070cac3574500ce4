/**
 * What the commands that touch a store share: the --endpoint option, and
 * whether stderr is a terminal (for live lines). Imports nothing of the
 * stores: `shoebox write` without --to loads this and none of them (start-up;
 * a store URL's check is in store-url-arg.ts, the transfer line in
 * transfer-reporter.ts).
 */
import { checkEndpoint } from '../units.js'
import type { StoreOptions } from '../store/open-store.js'
import type { Io } from './io.js'
import { asUsage, type OptionSpec } from './options.js'

export const storeOptionSpec: OptionSpec = {
  endpoint: { type: 'string' }
}

/** The flag of each store option (Command.flags): a refused endpoint names --endpoint, not the API's 'endpoint'. */
export const STORE_FLAGS = { endpoint: '--endpoint' }

export const storeOptionHelp = `  --endpoint URL        an S3-compatible endpoint (default SHOEBOX_S3_ENDPOINT, else AWS);
                        credentials and region come from the standard AWS variables/profiles`

/**
 * The store options the flags give. A malformed --endpoint is a usage error
 * (exit 2) in every command, said here as the flags are read: it was exit 1
 * where the store refused it at its first use, and 2 where a command checked
 * its options first. One that cannot be reached is no usage error: the store
 * fails at its first request (exit 1). Call it before the command makes
 * anything.
 */
export function storeOptionsFrom (values: Record<string, unknown>): StoreOptions {
  if (typeof values.endpoint !== 'string') return {}
  const endpoint = values.endpoint
  asUsage(() => { checkEndpoint(endpoint) }, { flags: STORE_FLAGS })
  return { endpoint }
}

export function isTerminal (io: Io): boolean {
  return io.stderr === process.stderr && process.stderr.isTTY === true
}
