// The lean Request and Response stand in for the runtime's own: whatever of
// Request or Response they do not implement themselves is forwarded to a
// real object, built on first use (`real(self)`), so any code that reaches
// past the fast paths still gets a working Request or Response. The members
// are named here, from the fetch standard, rather than read off the native
// prototype: on Node that would load undici (see native.ts).

const BODY_MEMBERS = ['body', 'bodyUsed', 'arrayBuffer', 'blob', 'bytes', 'formData', 'json', 'text', 'clone'];
export const REQUEST_MEMBERS = [
  ...BODY_MEMBERS, 'method', 'url', 'headers', 'destination', 'referrer', 'referrerPolicy', 'mode', 'credentials', 'cache',
  'redirect', 'integrity', 'keepalive', 'isReloadNavigation', 'isHistoryNavigation', 'signal', 'duplex',
];
export const RESPONSE_MEMBERS = [...BODY_MEMBERS, 'type', 'url', 'redirected', 'status', 'ok', 'statusText', 'headers'];

export function delegateToReal<T extends object>(lean: { prototype: T }, members: string[], real: (self: T) => object): void {
  for (const key of members) {
    if (Object.prototype.hasOwnProperty.call(lean.prototype, key)) continue;
    Object.defineProperty(lean.prototype, key, {
      configurable: true,
      get(this: T) {
        const r = real(this) as Record<string, unknown>;
        const v = r[key];
        return typeof v === 'function' ? v.bind(r) : v;
      },
    });
  }
}
