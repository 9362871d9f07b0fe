// Starts a TypeScript entry point on any Node 20+: natively where Node strips
// types itself, otherwise through tsx's loader.
export async function launch(entry) {
  const url = new URL(entry, import.meta.url);
  if (!process.features?.typescript) {
    const { register } = await import('tsx/esm/api');
    register();
  }
  await import(url.href);
}
