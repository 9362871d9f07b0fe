// nsqlookupd on Deno: `deno run -A adapters/deno/nsqlookupd.ts --tcp-address=...`.
import { nsqlookupdMain } from '../../core/lookupd/main.ts';
import { denoRuntime } from './mod.ts';
import { denoProcess } from './process.ts';

await nsqlookupdMain(denoRuntime, denoProcess);
