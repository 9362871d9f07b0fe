// Bun implements Node's process object natively, so Node's port serves Bun as is.
export { nodeProcess as bunProcess, nodeMemoryUsage as bunMemoryUsage } from '../node/process.ts';
