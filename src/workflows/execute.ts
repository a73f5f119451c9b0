import type { TaskDefinition, TaskOutcome, TemplateScope } from "./tasks";
import { TaskFailure } from "./tasks";

/**
 * Runs one attempt of a task (any kind but `delay`, which the engine schedules itself).
 * Resolves with the outcome, or rejects with a TaskFailure. `signal` aborts it (timeout, cancel).
 */
export async function executeTask(_env: Env, task: TaskDefinition, _scope: TemplateScope, _signal: AbortSignal): Promise<TaskOutcome> {
  throw new TaskFailure(`task kind '${task.kind}' is not implemented yet`);
}
