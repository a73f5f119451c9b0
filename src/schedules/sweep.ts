// The cron sweep's part for schedules: a schedule whose `next_fire_at` is past (by more than a
// moment) lost its alarm, or never got one (the re-arm after its create or edit failed). Its DO is
// asked to wake: it handles what is due (within the catch-up window: started, once) and sets its
// alarm again. A wake is idempotent, so a sweep racing an alarm, or two sweeps, do no harm.
import { and, asc, isNotNull, lte } from "drizzle-orm";
import { getDb } from "../db/client";
import { schedules } from "../db/schema";
import { SWEEP_BATCH, SWEEP_GRACE_MS } from "./limits";
import { scheduleStub } from "./stub";

export async function sweepSchedules(env: Env, now: Date) {
  const nowMs = now.getTime();
  const due = new Date(nowMs - SWEEP_GRACE_MS).toISOString();
  const overdue = await getDb(env)
    .select({ id: schedules.id })
    .from(schedules)
    .where(and(isNotNull(schedules.nextFireAt), lte(schedules.nextFireAt, due)))
    .orderBy(asc(schedules.nextFireAt))
    .limit(SWEEP_BATCH);
  const results = await Promise.allSettled(overdue.map((r) => scheduleStub(env, String(r.id)).sweep(String(r.id), nowMs)));
  const failed = results.filter((r) => r.status === "rejected").length;
  console.log(JSON.stringify({ level: "info", msg: "schedule sweep", rearmed: overdue.length, failed }));
  return { rearmed: overdue.length, failed };
}
