// Trigger events travel to their dispatch through the TASKS queue when the change was made by a
// job's content.* task (the job's Durable Object does not dispatch inside its own alarm). The
// message only says which events to look at; losing it loses nothing (the cron sweep finds the
// events in the outbox), and delivering it twice starts nothing twice (dispatch.ts).

/** The body of a TASKS message that asks for events to be dispatched. */
export type EventsMessage = { type: "content-events"; eventIDs: number[] };

export const isEventsMessage = (body: unknown): body is EventsMessage =>
  !!body &&
  typeof body === "object" &&
  (body as EventsMessage).type === "content-events" &&
  Array.isArray((body as EventsMessage).eventIDs) &&
  (body as EventsMessage).eventIDs.length <= 100 &&
  (body as EventsMessage).eventIDs.every((id) => Number.isSafeInteger(id) && id > 0);

/** Sends the events to the queue; a failure is logged and left to the sweep (the write has happened). */
export async function queueEvents(env: Env, eventIDs: number[]): Promise<void> {
  try {
    await env.TASKS.send({ type: "content-events", eventIDs } satisfies EventsMessage);
  } catch (err) {
    console.error(JSON.stringify({ level: "error", msg: "queueing trigger events failed; the sweep dispatches them", eventIDs, error: String(err) }));
  }
}
