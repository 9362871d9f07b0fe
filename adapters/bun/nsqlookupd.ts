// nsqlookupd on Bun: `bun adapters/bun/nsqlookupd.ts --tcp-address=...`.
import { nsqlookupdMain } from '../../core/lookupd/main.ts';
import { bunRuntime } from './mod.ts';
import { bunProcess } from './process.ts';

await nsqlookupdMain(bunRuntime, bunProcess);
