#!/usr/bin/env node
// Bundles the Node daemons, each with everything it imports, into one
// JavaScript file: dist/node/<daemon>.mjs, beside <daemon>.inputs.json (the
// files it was made from, so bin/launch.js can tell when it is stale).
// `npm install` runs it (the "prepare" script); bin/launch.js runs it again
// when a source changed. Usage: node bin/build.js [daemon ...]
import { build } from 'esbuild';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const DAEMONS = ['nsqd', 'nsqlookupd'];
const root = fileURLToPath(new URL('..', import.meta.url));

async function bundle(name) {
  const out = `${root}dist/node/${name}.mjs`;
  const tmp = `${out}.${process.pid}.tmp`;
  const result = await build({
    absWorkingDir: root, // metafile paths relative to the package
    entryPoints: [`adapters/node/${name}.ts`],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Shorter source text to keep in memory; names stay, for stack traces.
    minifyWhitespace: true,
    minifySyntax: true,
    metafile: true,
    logLevel: 'error',
  });
  const inputs = Object.keys(result.metafile.inputs);
  // Written before the rename: a bundle is never newer than its inputs list.
  writeFileSync(`${root}dist/node/${name}.inputs.json`, JSON.stringify(inputs));
  renameSync(tmp, out);
}

mkdirSync(`${root}dist/node`, { recursive: true });
const names = process.argv.slice(2);
for (const name of names.length > 0 ? names : DAEMONS) {
  if (!DAEMONS.includes(name)) {
    console.error(`bin/build.js: unknown daemon ${name} (one of ${DAEMONS.join(', ')})`);
    process.exit(2);
  }
  await bundle(name);
}
