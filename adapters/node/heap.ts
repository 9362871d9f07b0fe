// The daemons' young generation, kept small. Under nsqd's allocation rate V8
// grows each semi-space up to 16 MiB, memory that then stays in the
// process's RSS although it only ever holds garbage. Kept at its initial
// size (1 MiB) the scavenges are more frequent but as cheap, since what
// survives is the same, and peak RSS with a million queued messages drops
// by about 15 MiB (bench/README.md, "Memory"). Only the growth factor can
// still change once Node runs (the maximum is fixed when the heap is made);
// a semi-space flag given to Node (command line or NODE_OPTIONS) wins.
// Imported first by the entry points, before anything allocates.
import process from 'node:process';
import { setFlagsFromString } from 'node:v8';

const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) => /--(max-semi-space-size|semi-space-growth-factor)/.test(arg));
if (!given) setFlagsFromString('--semi-space-growth-factor=1');
