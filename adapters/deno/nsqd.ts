// nsqd on Deno: `deno run -A adapters/deno/nsqd.ts --tcp-address=...`.
import { nsqdMain } from '../../core/nsqd/main.ts';
import { denoRuntime } from './mod.ts';
import { denoProcess } from './process.ts';

await nsqdMain(denoRuntime, denoProcess);
