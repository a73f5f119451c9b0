/** The every-minute safety net: starts missed jobs and fails jobs past their timeout. */
export async function sweep(_env: Env, _now: Date) {}
