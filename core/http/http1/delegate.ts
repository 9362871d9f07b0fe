// The lean Request and Response stand in for the runtime's own: whatever of
// Request or Response they do not implement themselves is forwarded to a
// real object, built on first use (`real(self)`), so any code that reaches
// past the fast paths still gets a working Request or Response. The members
// are named here, from the fetch standard, rather than read off the native
// prototype: on Node that would load undici (see native.ts).

export interface Members {
  /** Methods: plain functions on the prototype, so `typeof x.text` builds nothing. */
  methods: string[];
  /** Attributes: getters. */
  attributes: string[];
}

const BODY_METHODS = ['arrayBuffer', 'blob', 'bytes', 'formData', 'json', 'text', 'clone'];
export const REQUEST_MEMBERS: Members = {
  methods: BODY_METHODS,
  attributes: [
    'body', 'bodyUsed', 'method', 'url', 'headers', 'destination', 'referrer', 'referrerPolicy', 'mode', 'credentials',
    'cache', 'redirect', 'integrity', 'keepalive', 'isReloadNavigation', 'isHistoryNavigation', 'signal', 'duplex',
  ],
};
export const RESPONSE_MEMBERS: Members = {
  methods: BODY_METHODS,
  attributes: ['body', 'bodyUsed', 'type', 'url', 'redirected', 'status', 'ok', 'statusText', 'headers'],
};

export function delegateToReal<T extends object>(lean: { prototype: T }, members: Members, real: (self: T) => object): void {
  const own = (key: string) => Object.prototype.hasOwnProperty.call(lean.prototype, key);
  for (const key of members.methods) {
    if (own(key)) continue;
    Object.defineProperty(lean.prototype, key, {
      configurable: true,
      writable: true,
      value(this: T, ...args: unknown[]) {
        return (real(this) as Record<string, (...a: unknown[]) => unknown>)[key]!(...args);
      },
    });
  }
  for (const key of members.attributes) {
    if (own(key)) continue;
    Object.defineProperty(lean.prototype, key, {
      configurable: true,
      get(this: T) {
        return (real(this) as Record<string, unknown>)[key];
      },
    });
  }
}
