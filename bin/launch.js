// Starts a Node daemon (bin/nsqd, bin/nsqlookupd) on Node 20+. It runs the
// daemon's bundle (dist/node/<name>.mjs, see bin/build.js): one JavaScript
// file, so Node holds neither a TypeScript loader nor a hundred module
// records, which saves memory and start-up time. A bundle that is missing or
// older than one of its sources is made again first (in a child process, so
// the bundler stays out of the daemon). If that cannot be done (no esbuild,
// a read-only install), the TypeScript sources run as they are: natively
// where Node strips types (22.18+), otherwise through tsx.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function fresh(name) {
  const built = mtime(`${root}dist/node/${name}.mjs`);
  if (built === undefined) return false;
  try {
    const inputs = JSON.parse(readFileSync(`${root}dist/node/${name}.inputs.json`, 'utf8'));
    return inputs.every((input) => (mtime(root + input) ?? Infinity) <= built);
  } catch {
    return false;
  }
}

function bundled(name) {
  if (fresh(name)) return true;
  try {
    execFileSync(process.execPath, [`${root}bin/build.js`, name], { stdio: ['ignore', 'ignore', 'pipe'] });
    return true;
  } catch (err) {
    const why = String(err.stderr ?? err.message).trim().split('\n')[0];
    console.error(`[${name}] running from the TypeScript sources: could not bundle them (${why})`);
    return false;
  }
}

export async function launch(name) {
  if (bundled(name)) {
    await import(new URL(`../dist/node/${name}.mjs`, import.meta.url).href);
    return;
  }
  if (!process.features?.typescript) {
    const { register } = await import('tsx/esm/api');
    register();
  }
  await import(new URL(`../adapters/node/${name}.ts`, import.meta.url).href);
}
