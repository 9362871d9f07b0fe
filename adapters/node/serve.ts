// Serve on Node: core's HTTP/1.1 server over node:net (node:http and
// undici's Request/Response cost more per request than nsqd's whole /pub),
// with the lean Response as the global one.
import { serveHttp1 } from '../../core/http/http1/mod.ts';
import type { Serve } from '../../core/ports.ts';
import { nodeNet } from './net.ts';

export const nodeServe: Serve = (handler, address, onError) => serveHttp1(nodeNet, handler, address, { onError, leanResponse: true });
