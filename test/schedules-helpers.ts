// Helpers for the schedule tests: schedules through the API, their Durable Object's clock, its
// alarm run on demand, and the jobs a schedule started (from D1 and through the API).
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { call } from "./helpers";

/** Far enough ahead that no real alarm fires while a test runs; tests move the clock by hand. */
export const FUTURE = "2099-01-01T00:00:00.000Z";
export const at = (text: string) => Date.parse(text);

export async function makeSchedule(body: Record<string, unknown>) {
  const res = await call("/schedule/", { body });
  if (res.status !== 201) throw new Error(`schedule create failed: ${res.status} ${res.text}`);
  return res.json.response as Record<string, any>;
}

export const scheduleStubOf = (scheduleID: string) => env.SCHEDULES.get(env.SCHEDULES.idFromName(scheduleID));

/** The clock as the schedule's DO stores it, and its alarm. */
export async function clockOf(scheduleID: string): Promise<{ clock: any; alarm: number | null }> {
  return runInDurableObject(scheduleStubOf(scheduleID), async (_instance, ctx) => {
    const hasState = ctx.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'state'").toArray().length > 0;
    const row = hasState ? ctx.storage.sql.exec<{ data: string }>("SELECT data FROM state WHERE id = 1").toArray()[0] : undefined;
    return { clock: row ? JSON.parse(row.data) : null, alarm: await ctx.storage.getAlarm() };
  });
}

/** Runs the schedule's alarm now, at the real time (what a duplicated or stray invocation does). */
export async function runAlarmNow(scheduleID: string) {
  return runDurableObjectAlarm(scheduleStubOf(scheduleID));
}

/**
 * Moves the schedule's clock to the time its alarm is set for, as the alarm firing then would
 * (through the DO's wake at that instant; answers the instant).
 */
export async function advance(scheduleID: string): Promise<number> {
  const { alarm } = await clockOf(scheduleID);
  if (alarm === null) throw new Error(`schedule ${scheduleID} has no alarm`);
  await scheduleStubOf(scheduleID).sweep(scheduleID, alarm);
  return alarm;
}

/** Drops the DO's alarm (a lost alarm). */
export async function dropAlarm(scheduleID: string) {
  await runInDurableObject(scheduleStubOf(scheduleID), async (_instance, ctx) => {
    await ctx.storage.deleteAlarm();
  });
}

export async function scheduleRow(scheduleID: string) {
  return env.DB.prepare("SELECT * FROM schedules WHERE id = ?").bind(Number(scheduleID)).first<Record<string, any>>();
}

/** The jobs a schedule started, from the D1 mirror, by fire time. */
export async function jobsOf(scheduleID: string) {
  const { results } = await env.DB.prepare("SELECT id, status, scheduled_for FROM jobs WHERE schedule_id = ? ORDER BY scheduled_for, id")
    .bind(Number(scheduleID))
    .all<{ id: number; status: string; scheduled_for: string }>();
  return results;
}

export async function scheduleLogOf(scheduleID: string) {
  const res = await call(`/schedule/${scheduleID}/log?perPage=100`);
  expect(res.status).toBe(200);
  return res.json.response.logs as Array<{ seq: number; level: string; message: string; data: any }>;
}

export async function getSchedule(scheduleID: string) {
  const res = await call(`/schedule/${scheduleID}`);
  expect(res.status).toBe(200);
  return res.json.response as Record<string, any>;
}
