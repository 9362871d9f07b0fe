// Errors are small classes with a code and an optional cause. Protocol errors
// keep NSQ's codes (E_INVALID, E_BAD_BODY, ...) so they go on the wire as is.

export class NsqError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A client error that leaves the connection open (E_FIN_FAILED, E_REQ_FAILED, E_TOUCH_FAILED). */
export class ClientError extends NsqError {
  readonly desc: string;
  constructor(code: string, desc: string, options?: { cause?: unknown }) {
    super(code, desc ? `${code} ${desc}` : code, options);
    this.desc = desc;
  }
  /** The text sent in the error frame. */
  get wire(): string {
    return this.message;
  }
}

/** A client error after which nsqd closes the connection. */
export class FatalClientError extends ClientError {}

/** Bad configuration: names the option, the value and what is allowed. */
export class ConfigError extends NsqError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_CONFIG', message, options);
  }
}
