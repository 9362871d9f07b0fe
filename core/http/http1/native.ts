// The runtime's own Request and Response, which the lean stand-ins need only
// for what they do not do themselves. On Node both are lazy globals: the
// first read loads undici and with it http, tls, crypto, zlib and
// worker_threads, about 12 MiB resident (a fifth of an idle nsqd), which a
// daemon answering through the lean classes never needs. On Node 22+ even
// reading the global's property descriptor loads it, so nothing here looks
// at the globals before prepareNatives(), which the HTTP/1.1 server calls
// when its first connection arrives: an nsqd nobody asks over HTTP never
// loads undici.
//
// lazyNative(name, link) gives a function returning the native class, read
// at its first call, and runs link(native) then (to chain a lean prototype
// to it). Where the global is a lazy getter (Node 20), prepareNatives()
// replaces it by one that reads and links the same way, so `x instanceof
// Request` in a handler finds the chain made; a lean class put in the global
// later (installLeanResponse) stays there.

const setups: (() => void)[] = [];

/** Looks at the globals (cheap where they are getters, see above). Idempotent. */
export function prepareNatives(): void {
  for (const setup of setups.splice(0)) setup();
}

export function lazyNative<T extends object>(name: 'Request' | 'Response', link: (native: T) => void): () => T {
  let original: PropertyDescriptor | undefined;
  let native: T | undefined;
  const get = (): T => {
    if (native !== undefined) return native;
    setup();
    if (native !== undefined) return native; // a plain value: setup took it
    const current = Object.getOwnPropertyDescriptor(globalThis, name)!;
    native = original!.get!.call(globalThis) as T;
    link(native);
    // Node's getter puts the class in the global: keep what stands there unless it is our getter.
    const value = { value: native, writable: true, configurable: true, enumerable: original!.enumerable };
    Object.defineProperty(globalThis, name, current.get === get ? value : current);
    return native;
  };
  const setup = () => {
    if (original !== undefined) return;
    original = Object.getOwnPropertyDescriptor(globalThis, name)!;
    if (original.get === undefined) {
      native = original.value as T;
      link(native);
      return;
    }
    const enumerable = original.enumerable;
    const set = (value: unknown) => Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable });
    Object.defineProperty(globalThis, name, { get, set, configurable: true, enumerable });
  };
  setups.push(setup);
  return get;
}
