// `page` is 0-based (default 0); `perPage` defaults to 50 and is clamped to 1..100.
import { badRequest } from "./errors";

export type Paging = { page: number; perPage: number; offset: number };

function intOrDefault(raw: string | undefined, name: string, fallback: number) {
  if (raw === undefined || raw.trim() === "") return fallback;
  if (!/^-?\d{1,15}$/.test(raw.trim())) {
    throw badRequest(`Invalid ${name} '${raw}': must be an integer`, [{ path: name, message: "must be an integer" }]);
  }
  return Number(raw);
}

/** Reads a log listing's `after` (logAfterParam in http/schemas.ts): the last seq already seen, 0 when absent. */
export function parseAfter(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === "") return 0;
  if (!/^\d{1,15}$/.test(raw.trim())) {
    throw badRequest(`Invalid after '${raw}': must be a log seq (an integer ≥ 0)`, [{ path: "after", message: "must be an integer ≥ 0" }]);
  }
  return Number(raw.trim());
}

/** Reads `page` and `perPage` (pagingParams in http/schemas.ts) into the window a listing returns. */
export function parsePaging(query: { page?: string; perPage?: string }): Paging {
  const page = Math.max(0, intOrDefault(query.page, "page", 0));
  const perPage = Math.min(100, Math.max(1, intOrDefault(query.perPage, "perPage", 50)));
  return { page, perPage, offset: page * perPage };
}
