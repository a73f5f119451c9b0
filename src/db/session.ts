// D1 sessions: every request's queries run in one session, so they see one sequentially
// consistent view (read replicas may serve its reads; writes go to the primary). The
// `d1Session` middleware (src/http/middleware.ts) opens it and hands it to the route as
// `c.env.DB`, so `getDb(c.env)` anywhere below uses it without passing it down.
//
// The client carries consistency across requests with the bookmark: every answer has the
// session's latest bookmark in `x-d1-bookmark`; sent back on the next request, that request
// starts at least there (read-your-writes). Without one, GETs start `first-unconstrained` (any
// replica, lowest latency) and writes `first-primary`. Paths outside requests (cron sweep, queue
// consumer, Durable Objects) get a session of their own from `getDb(env, constraint)`.

export const BOOKMARK_HEADER = "x-d1-bookmark";

/**
 * A D1 bookmark as D1 writes them: four dash-separated hex groups (8-8-8-32), e.g.
 * `00000000-0000000c-00000000-00000000000000000000000000000000`. Anything else is refused before
 * it reaches D1 (which, locally, accepts any text).
 */
const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

export const isBookmark = (text: string) => text.length <= 64 && BOOKMARK.test(text);

/** Where a request's session starts: the client's bookmark, else by method. */
export function requestConstraint(method: string, bookmark: string | undefined): D1SessionBookmark | D1SessionConstraint {
  if (bookmark) return bookmark;
  return method === "GET" || method === "HEAD" ? "first-unconstrained" : "first-primary";
}
