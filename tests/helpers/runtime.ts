// Picks the adapter of the runtime running the tests, so one test body runs on
// Node, Bun and Deno.
import type { Runtime } from '../../core/ports.ts';

const g = globalThis as { Bun?: unknown; Deno?: unknown };

export const runtimeName: Runtime['name'] = g.Bun ? 'bun' : g.Deno ? 'deno' : 'node';

async function load(): Promise<Runtime> {
  switch (runtimeName) {
    case 'bun':
      return (await import('../../adapters/bun/mod.ts')).bunRuntime;
    case 'deno':
      return (await import('../../adapters/deno/mod.ts')).denoRuntime;
    default:
      return (await import('../../adapters/node/mod.ts')).nodeRuntime;
  }
}

export const runtime: Runtime = await load();
