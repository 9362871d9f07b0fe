// The lean Request and Response stand in for the runtime's own: whatever of
// the native prototype they do not implement themselves is forwarded to a
// real object, built on first use (`real(self)`), so any code that reaches
// past the fast paths still gets a working Request or Response.

export function delegateToReal<T extends object>(lean: { prototype: T }, native: { prototype: object }, real: (self: T) => object): void {
  Object.setPrototypeOf(lean.prototype, native.prototype);
  for (const key of Object.getOwnPropertyNames(native.prototype)) {
    if (key === 'constructor' || Object.prototype.hasOwnProperty.call(lean.prototype, key)) continue;
    const d = Object.getOwnPropertyDescriptor(native.prototype, key)!;
    if (d.get !== undefined) {
      Object.defineProperty(lean.prototype, key, {
        configurable: true,
        enumerable: d.enumerable,
        get(this: T) {
          return (real(this) as Record<string, unknown>)[key];
        },
      });
    } else if (typeof d.value === 'function') {
      Object.defineProperty(lean.prototype, key, {
        configurable: true,
        writable: true,
        enumerable: d.enumerable,
        value(this: T, ...args: unknown[]) {
          return (real(this) as Record<string, (...a: unknown[]) => unknown>)[key]!(...args);
        },
      });
    }
  }
}
