// Serve on Node: a Hono app's fetch on @hono/node-server.
import { createAdaptorServer, type HttpBindings } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Address, Listener, Serve } from '../../core/ports.ts';

export const nodeServe: Serve = (handler, address: Address) =>
  new Promise<Listener>((resolve, reject) => {
    // The Content-Length from Node's parsed headers, so that core need not build a Headers object for it.
    const server = createAdaptorServer({
      fetch: (req, env) => handler(req, { contentLength: (env as HttpBindings).incoming.headers['content-length'] }),
    }) as Server;
    server.once('error', reject);
    const ready = () => {
      server.off('error', reject);
      const a = server.address();
      const bound = typeof a === 'object' && a ? { host: (a as AddressInfo).address, port: (a as AddressInfo).port } : { host: String(a), port: -1 };
      resolve({
        address: bound,
        // Stop accepting and drop idle keep-alive connections; requests under way finish.
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          server.closeIdleConnections();
          setTimeout(() => server.closeAllConnections(), 1000).unref();
        }),
      });
    };
    if ('path' in address) server.listen(address.path, ready);
    else server.listen(address.port, address.host, ready);
  });
