// Which model answered a slate, carried by the slate's request id so that an event learns it without a D1 write on
// the serving path. Every rerank and recommend answer carries
//   sv1.<arm: a | c>.<model version>.<nonce>.<HMAC-SHA256 b64url, 16 bytes>
// signed with USER_TOKEN_SECRET over everything before the last dot. Clients send it back with the impressions and
// clicks of that slate; POST /v1/events verifies it and stores the version in events.model_version. A forged or
// altered id verifies as nothing, so a client cannot credit its clicks to another model. The "sv1." prefix keeps these
// MACs apart from user tokens ("ut."), which use the same secret.
import { sha256 } from "@noble/hashes/sha2.js";
import { base64url, hmacSha256, utf8 } from "./signing";

export type Arm = "active" | "canary";

export interface Served {
  version: string;
  arm: Arm;
}

const mac = (secret: string, payload: string) => base64url(hmacSha256(secret, payload).slice(0, 16));

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
const SERVED = /^(sv1\.([ac])\.([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{1,40}))\.([A-Za-z0-9_-]{22})$/;

/**
 * The request id of an answer served by `version` on `arm`. The nonce is the X-Request-Id when it is short and plain
 * (so logs and events line up), else a random one. Without a secret the id stays the plain X-Request-Id: events then
 * carry no model version.
 */
export function servedRequestId(secret: string | undefined, served: Served, requestId: string): string {
  if (!secret || !TOKEN.test(served.version)) return requestId;
  const nonce = /^[A-Za-z0-9_-]{1,40}$/.test(requestId) ? requestId : base64url(crypto.getRandomValues(new Uint8Array(12)));
  const payload = `sv1.${served.arm === "canary" ? "c" : "a"}.${served.version}.${nonce}`;
  return `${payload}.${mac(secret, payload)}`;
}

/** The model and arm a request id names, or null when it is not a served id or does not verify. */
export function verifyServedId(secret: string | undefined, requestId: string): Served | null {
  const m = secret ? SERVED.exec(requestId) : null;
  if (!m || !secret) return null;
  const want = utf8.encode(mac(secret, m[1]));
  const got = utf8.encode(m[5]);
  if (!crypto.subtle.timingSafeEqual(want, got)) return null;
  return { version: m[3], arm: m[2] === "c" ? "canary" : "active" };
}

/**
 * The canary's share of traffic: a unit (a userId, or a client-provided key for anonymous users) is in it when the
 * first 32 bits of SHA-256("<canary version>:<key>") fall below share · 2^32. Stable for a unit during one canary,
 * and independent across canaries (the version salts it).
 */
export function canaryBucket(version: string, key: string): number {
  const h = sha256(utf8.encode(`${version}:${key}`));
  return (((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0) / 2 ** 32;
}

export function inCanary(canary: { version: string; share: number } | null, key: string | undefined): boolean {
  return canary !== null && key !== undefined && canaryBucket(canary.version, key) < canary.share;
}
