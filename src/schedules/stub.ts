// The schedule's Durable Object, addressed by idFromName(scheduleID). Kept apart so the job's
// Durable Object can tell a schedule about its job without importing the schedule code.
export const scheduleStub = (env: Env, scheduleID: string) => env.SCHEDULES.get(env.SCHEDULES.idFromName(scheduleID));
