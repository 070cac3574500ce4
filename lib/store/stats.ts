/**
 * Transfer statistics moved to lib/transfer/stats.ts (the event shipper
 * shares them); this re-export keeps modules outside the store's slice
 * importing them from here until they switch.
 */
export { TransferStats, formatStats, type TransferSnapshot, type DirectionStats } from '../transfer/stats.js'
