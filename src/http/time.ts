// Times are RFC 3339 strings in UTC with milliseconds (`2026-11-27T20:18:49.000Z`), in storage and
// in JSON alike.

/** Now, as stored and answered. */
export const nowIso = () => new Date().toISOString();
