// Serve on Deno: Deno.serve, typed locally (see deno_types.ts).
import type { Address, FetchHandler, Listener, Serve } from '../../core/ports.ts';

interface DenoHttpServer {
  readonly addr: { hostname: string; port: number } | { path: string };
  readonly finished: Promise<void>;
  shutdown(): Promise<void>;
}
type DenoServeOptions = ({ hostname: string; port: number } | { path: string }) & {
  onListen?(): void;
  onError?(err: unknown): Response;
};

const deno = (globalThis as unknown as { Deno: { serve(options: DenoServeOptions, handler: FetchHandler): DenoHttpServer } }).Deno;

export const denoServe: Serve = async (handler, address: Address, onError): Promise<Listener> => {
  const where = 'path' in address ? { path: address.path } : { hostname: address.host, port: address.port };
  const error = onError && ((err: unknown) => (onError(err), new Response('Internal Server Error', { status: 500 })));
  const server = deno.serve({ ...where, onListen: () => {}, ...(error && { onError: error }) }, (req) => handler(req));
  const a = server.addr;
  return {
    address: 'path' in a ? { host: a.path, port: -1 } : { host: a.hostname, port: a.port },
    close: () => server.shutdown(),
  };
};
