// The Deno runtime for nsq-ts daemons and clients.
import type { Runtime } from '../../core/ports.ts';
import { deno } from './deno_types.ts';
import { denoNet } from './net.ts';
import { denoStorage } from './storage.ts';
import { denoServe } from './serve.ts';
import { denoMemoryUsage } from './process.ts';

export { denoNet };

export const denoRuntime: Runtime = {
  name: 'deno',
  net: denoNet,
  storage: denoStorage,
  serve: denoServe,
  memoryUsage: denoMemoryUsage,
  hostname: () => deno.hostname(),
};
