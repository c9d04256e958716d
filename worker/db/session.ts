// D1 read replication through the Sessions API. A request's D1 calls go through one session: with replicas on, its
// reads may be served by a replica near the colo, and stay sequentially consistent within the request. A client that
// must read its own write passes the bookmark the write answered (x-d1-bookmark) and the session starts at least
// there. Writes start at the primary and answer their bookmark.
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../bindings";

export const BOOKMARK_HEADER = "x-d1-bookmark";
const BOOKMARK = /^[0-9a-zA-Z-]{1,128}$/;

/** A session used where drizzle and the data access functions expect a D1Database (they only prepare and batch). */
function sessionDatabase(db: D1Database, session: D1DatabaseSession): D1Database {
  return {
    prepare: (query: string) => session.prepare(query),
    batch: (statements: D1PreparedStatement[]) => session.batch(statements),
    exec: (query: string) => db.exec(query),
    withSession: (c?: string) => db.withSession(c),
    dump: () => db.dump(),
  } as D1Database;
}

/**
 * Middleware: this request's env.DB is a session, from the client's bookmark or `start` (by default: GET reads
 * anywhere, other methods write at the primary); the answer carries the session's bookmark.
 */
export function d1Session(start?: D1SessionConstraint) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const db = c.env.DB;
    if (typeof db.withSession !== "function") return next(); // a runtime without sessions: plain D1
    const asked = c.req.header(BOOKMARK_HEADER);
    const constraint = start ?? (c.req.method === "GET" ? "first-unconstrained" : "first-primary");
    const session = db.withSession(asked && BOOKMARK.test(asked) ? asked : constraint);
    c.env = { ...c.env, DB: sessionDatabase(db, session) };
    await next();
    const bookmark = session.getBookmark();
    if (bookmark) c.header(BOOKMARK_HEADER, bookmark);
  });
}
