// nsq-ts's HTTP/1.1 server over the Net port (see server.ts).
import { LeanResponse as LeanResponseClass } from './response.ts';

export { type Http1Options, serveHttp1 } from './server.ts';
export { installLeanResponse } from './response.ts';
export { LeanRequest } from './request.ts';

/** The lean Response (response.ts), typed as what it stands in for. */
export const LeanResponse = LeanResponseClass as unknown as typeof Response;
