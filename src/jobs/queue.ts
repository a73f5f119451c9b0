/** Consumes task-attempt messages from the TASKS queue. */
export async function handleTaskBatch(batch: MessageBatch<unknown>, _env: Env, _ctx: ExecutionContext) {
  for (const message of batch.messages) message.ack();
}
