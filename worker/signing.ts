// The byte helpers both signed credentials use (user tokens in credentials.ts, served request ids in served.ts):
// base64url without padding, HMAC-SHA256 over a UTF-8 payload, and a constant-time comparison.
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";

export const utf8 = new TextEncoder();

export const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

export function fromBase64url(s: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}

export const hmacSha256 = (secret: string, payload: string) => hmac(sha256, utf8.encode(secret), utf8.encode(payload));

export const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && crypto.subtle.timingSafeEqual(a, b);
