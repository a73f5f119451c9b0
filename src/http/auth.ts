// Bearer JWT (HS256, JWT_SECRET) → the caller's subject and scopes. `admin` implies read and write.
import type { Context } from "hono";
import { verify } from "hono/jwt";
import { ApiError, forbidden, unauthorized } from "./errors";
import { parseId } from "./ids";
import type { AppEnv, Scope, User } from "./types";

const KNOWN_SCOPES = new Set<Scope>(["read", "write", "admin"]);

/** The last character of a base64url segment by its length mod 4, when its unused bits are 0. */
const CANONICAL_LAST: Record<number, string> = { 2: "AQgw", 3: "AEIMQUYcgkosw048" };

/**
 * Whether a base64url segment is the one spelling of its bytes. Lenient decoders ignore the
 * unused low bits of the last character, so without this check one signature verifies in four
 * spellings (`...A`, `...B`, `...C`, `...D`): four tokens, four rate-limit buckets, one identity.
 */
function isCanonicalBase64url(segment: string): boolean {
  const rest = segment.length % 4;
  if (rest === 1) return false;
  return rest === 0 || CANONICAL_LAST[rest].includes(segment[segment.length - 1]);
}

export async function authenticate(c: Context<AppEnv>): Promise<User> {
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\s*$/i.exec(header);
  const secret = c.env.JWT_SECRET;
  if (!match || !secret || !match[1].split(".").every(isCanonicalBase64url)) throw unauthorized();
  let claims: Record<string, unknown>;
  try {
    claims = (await verify(match[1], secret, "HS256")) as Record<string, unknown>;
  } catch {
    throw unauthorized();
  }
  const { exp, scope } = claims;
  // `sub` is the user ID as a decimal string; a JSON number is accepted and written as one.
  const sub = typeof claims.sub === "number" && Number.isSafeInteger(claims.sub) ? String(claims.sub) : claims.sub;
  const validSub = typeof sub === "string" && parseId(sub) !== undefined;
  if (typeof exp !== "number" || !validSub) throw unauthorized();
  const scopes = new Set<Scope>();
  if (typeof scope === "string") {
    for (const s of scope.split(" ")) if (KNOWN_SCOPES.has(s as Scope)) scopes.add(s as Scope);
  }
  if (scopes.has("admin")) {
    scopes.add("read");
    scopes.add("write");
  }
  return { sub, scopes };
}

export function requireScope(user: User, scope: Scope) {
  if (!user.scopes.has(scope)) throw forbidden(scope);
}

/**
 * Per-user rate limit through the Workers rate-limiting binding, keyed by the verified identity
 * (`sub`), so a user's many tokens share one budget; `RATE_LIMIT=off` disables it.
 */
export async function rateLimit(c: Context<AppEnv>, user: User) {
  if ((c.env.RATE_LIMIT ?? "on").toLowerCase() === "off" || !c.env.RATE_LIMITER) return;
  const { success } = await c.env.RATE_LIMITER.limit({ key: `user:${user.sub}` });
  if (!success) {
    throw new ApiError("rate_limited", "Too many requests; retry later", undefined, { "retry-after": "60" });
  }
}
