// The runtime's own Request and Response, which the lean stand-ins need only
// for what they do not do themselves. On Node both are lazy globals: the
// first read loads undici and with it http, tls, crypto, zlib and
// worker_threads, about 12 MiB resident on Node 20 (a fifth of an idle
// nsqd), which a daemon answering through the lean classes never needs.
//
// lazyNative(name, link) gives a function returning the native class, read
// at its first call, and runs link(native) then (to chain a lean prototype
// to it). Where the global is such a lazy getter it is replaced by one that
// reads and links the same way, so `x instanceof Request` in a handler finds
// the chain made; a lean class put in the global later (installLeanResponse)
// stays there.
export function lazyNative<T extends object>(name: 'Request' | 'Response', link: (native: T) => void): () => T {
  const original = Object.getOwnPropertyDescriptor(globalThis, name)!;
  const load = original.get;
  let native: T | undefined;
  const get = (): T => {
    if (native !== undefined) return native;
    const current = Object.getOwnPropertyDescriptor(globalThis, name)!;
    native = (load === undefined ? original.value : load.call(globalThis)) as T;
    link(native);
    // Node's getter puts the class in the global: keep what stands there unless it is our getter.
    const value = { value: native, writable: true, configurable: true, enumerable: original.enumerable };
    Object.defineProperty(globalThis, name, current.get === get ? value : current);
    return native;
  };
  if (load === undefined) get();
  else {
    const set = (value: unknown) => Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: original.enumerable });
    Object.defineProperty(globalThis, name, { get, set, configurable: true, enumerable: original.enumerable });
  }
  return get;
}
