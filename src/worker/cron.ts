// The every-minute cron: each part's safety-net sweep (jobs, schedules, trigger events) and the
// expiry of recorded task effects. Apart: a failure of one does not stop the others (each is
// caught up next minute anyway).
import { expireEffects } from "../content/effects";
import { getDb } from "../db/client";
import { sweep as sweepJobs } from "../jobs/sweep";
import { sweepSchedules } from "../schedules/sweep";
import { requestEventSweep } from "../triggers/sweep";

export async function sweepAll(env: Env, now: Date) {
  const results = await Promise.allSettled([
    sweepJobs(env, now),
    sweepSchedules(env, now),
    requestEventSweep(env, now),
    expireEffects(getDb(env), now.getTime()),
  ]);
  for (const r of results) if (r.status === "rejected") console.error(JSON.stringify({ level: "error", msg: "sweep failed", error: String(r.reason) }));
}
