// Synchronous SHA-256 over bytes, hex. crypto.subtle is async only, and content versions (codebook, item encoder,
// manifest) are computed in sync code on both sides, the Worker and the Node scripts; @noble/hashes runs in both.
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

export function sha256Hex(bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes));
}
