// Go nsqd's default --node-id: crc32(md5(hostname)) % 1024.
import { md5 } from '@noble/hashes/legacy.js';

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function defaultNodeId(hostname: string): number {
  return crc32(md5(new TextEncoder().encode(hostname))) % 1024;
}
