// nsqd on Bun: `bun adapters/bun/nsqd.ts --tcp-address=...`.
import { nsqdMain } from '../../core/nsqd/main.ts';
import { bunRuntime } from './mod.ts';
import { bunProcess } from './process.ts';

await nsqdMain(bunRuntime, bunProcess);
