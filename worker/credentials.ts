// Who may write feedback. Two credentials, both sent as `Authorization: Bearer <credential>`:
// - an API key (hk_<id>_<secret>), one per client backend, created and revoked through admin routes; D1 stores only the
//   SHA-256 of the secret, and the key is shown once. A key may write events for any of its site's users.
// - a user token (ut.<userId base64url>.<expiry s>.<HMAC-SHA256 base64url>), signed with USER_TOKEN_SECRET over
//   "ut.<userId base64url>.<expiry s>". A site's backend gets one from POST /v1/tokens (with its API key) and hands it
//   to that user's browser; it lets the browser write that one user's events until it expires.
import { and, desc, eq, isNull } from "drizzle-orm";
import { sha256Hex } from "../core/sha256";
import { database } from "./db/client";
import { apiKeys, nowMs } from "./db/schema";
import { d1 } from "./errors";
import { base64url, fromBase64url, hmacSha256, sameBytes, utf8 } from "./signing";

export type Principal = { kind: "key"; keyId: string } | { kind: "user"; userId: string };

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** A new API key: stored as its id and the SHA-256 of its secret; the full key is returned once. */
export async function createApiKey(env: { DB: D1Database }, name: string): Promise<{ id: string; key: string; name: string }> {
  const id = hex(crypto.getRandomValues(new Uint8Array(8)));
  const secret = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const db = database(env.DB);
  await d1(() => db.insert(apiKeys).values({ id, name, secretSha256: sha256Hex(utf8.encode(secret)) }));
  return { id, key: `hk_${id}_${secret}`, name };
}

export async function listApiKeys(env: { DB: D1Database }) {
  const db = database(env.DB);
  return d1(() =>
    db
      .select({ id: apiKeys.id, name: apiKeys.name, createdAt: apiKeys.createdAt, revokedAt: apiKeys.revokedAt })
      .from(apiKeys)
      .orderBy(desc(apiKeys.createdAt)),
  );
}

/** Revokes a key at once (the next request with it is refused). False when there is no such live key. */
export async function revokeApiKey(env: { DB: D1Database }, id: string): Promise<boolean> {
  const db = database(env.DB);
  const rows = await d1(() =>
    db
      .update(apiKeys)
      .set({ revokedAt: nowMs })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id }),
  );
  return rows.length > 0;
}

/** The key's id if `key` is a live API key, else null. */
export async function verifyApiKey(env: { DB: D1Database }, key: string): Promise<string | null> {
  const m = /^hk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/.exec(key);
  if (!m) return null;
  const db = database(env.DB);
  const [row] = await d1(() =>
    db
      .select({ secretSha256: apiKeys.secretSha256 })
      .from(apiKeys)
      .where(and(eq(apiKeys.id, m[1]), isNull(apiKeys.revokedAt)))
      .limit(1),
  );
  if (!row) return null;
  return sameBytes(utf8.encode(sha256Hex(utf8.encode(m[2]))), utf8.encode(row.secretSha256)) ? m[1] : null;
}

/** A user token for `userId`, valid until `expiresAt` (seconds since the epoch). */
export function signUserToken(secret: string, userId: string, expiresAt: number): string {
  const payload = `ut.${base64url(utf8.encode(userId))}.${Math.floor(expiresAt)}`;
  return `${payload}.${base64url(hmacSha256(secret, payload))}`;
}

/** The user a token speaks for, or null when it is malformed, forged or expired (`now` in ms). */
export function verifyUserToken(secret: string, token: string, now: number): string | null {
  const m = /^(ut\.([A-Za-z0-9_-]+)\.(\d{1,12}))\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return null;
  const mac = fromBase64url(m[4]);
  if (!mac || !sameBytes(mac, hmacSha256(secret, m[1]))) return null;
  if (Number(m[3]) * 1000 <= now) return null;
  const user = fromBase64url(m[2]);
  return user ? new TextDecoder().decode(user) : null;
}
