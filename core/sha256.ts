// Synchronous SHA-256 over bytes, hex. crypto.subtle is async only, and content versions (codebook, item encoder,
// manifest) are computed in sync code on both sides, the Worker and the Node scripts; @noble/hashes runs in both.
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

export function sha256Hex(bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes));
}

/** sha256Hex of the concatenation of `parts`, without ever joining them (a 1M-item table is past V8's longest string). */
export function sha256HexOfParts(parts: Iterable<string>): string {
  const h = sha256.create();
  const utf8 = new TextEncoder();
  for (const p of parts) h.update(utf8.encode(p));
  return bytesToHex(h.digest());
}
