// Serve on Bun: Bun.serve, typed locally (see bun_types.ts).
import type { Address, FetchHandler, Listener, Serve } from '../../core/ports.ts';

interface BunServer {
  readonly hostname?: string;
  readonly port?: number;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}
type BunServeOptions = ({ hostname: string; port: number } | { unix: string }) & { fetch: FetchHandler; error?(err: Error): Response };

const bun = (globalThis as unknown as { Bun: { serve(options: BunServeOptions): BunServer } }).Bun;

export const bunServe: Serve = async (handler, address: Address, onError): Promise<Listener> => {
  const where = 'path' in address ? { unix: address.path } : { hostname: address.host, port: address.port };
  const error = onError && ((err: Error) => (onError(err), new Response('Internal Server Error', { status: 500 })));
  const server = bun.serve({ ...where, fetch: (req) => handler(req), ...(error && { error }) });
  return {
    address: 'path' in address ? { host: address.path, port: -1 } : { host: address.host, port: server.port ?? address.port },
    close: async () => {
      await server.stop(false);
    },
  };
};
