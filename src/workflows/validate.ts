// Turns the `tasks` and `onError` input of a workflow into task definitions, collecting every
// problem with a `tasks[i].options.url`-style path so one 400 names them all.
import { formatPath, type ErrorDetail } from "../http/errors";
import { checkOutbound } from "./outbound-guard";
import { KINDS_WITH_RESULT, optionSchemas, taskFieldSchemas, WORKFLOW_MAX_BYTES } from "./schemas";
import { SECRET_OPTIONS, SECRET_PLACEMENT } from "./secrets";
import { hasTemplate, parseTemplates, walkStrings } from "./templates";
import type { TaskDefinition, TaskKind } from "../jobs/tasks";

type ListName = "tasks" | "onError";

/** A literal module ID an option names, to check that the module exists. */
type ModuleRef = { path: string; moduleId: number };

type ValidatedTasks = {
  tasks: TaskDefinition[];
  onError: TaskDefinition[];
  details: ErrorDetail[];
  moduleRefs: ModuleRef[];
};

type Path = (string | number)[];

type Checked = { definition?: TaskDefinition; index: number };

function checkList(list: ListName, input: unknown[], details: ErrorDetail[], allowHosts: string | undefined, moduleRefs: ModuleRef[]) {
  const checked: Checked[] = [];
  const seen = new Map<string, number>();
  input.forEach((raw, index) => {
    const at = (...rest: Path) => formatPath([list, index, ...rest]);
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      details.push({ path: at(), message: "must be a task object {name, kind, options, retries, timeout}" });
      checked.push({ index });
      return;
    }
    const task = raw as Record<string, unknown>;
    const parsed: Record<string, unknown> = {};
    let ok = true;
    for (const [key, schema] of Object.entries(taskFieldSchemas)) {
      const result = schema.safeParse(task[key]);
      if (result.success) parsed[key] = result.data;
      else {
        ok = false;
        for (const issue of result.error.issues) details.push({ path: at(key, ...(issue.path as Path)), message: issue.message });
      }
    }
    if (typeof parsed.name === "string") {
      if (seen.has(parsed.name)) details.push({ path: at("name"), message: `duplicates the name of ${list}[${seen.get(parsed.name)}]` });
      else seen.set(parsed.name, index);
    }
    let options: Record<string, unknown> | undefined;
    if (typeof parsed.kind === "string" && parsed.options !== undefined) {
      const result = optionSchemas[parsed.kind as TaskKind].safeParse(parsed.options);
      if (result.success) options = result.data;
      else {
        ok = false;
        for (const issue of result.error.issues) details.push({ path: at("options", ...(issue.path as Path)), message: issue.message });
      }
    }
    if (!ok || !options) {
      checked.push({ index });
      return;
    }
    const definition: TaskDefinition = {
      name: parsed.name as string,
      kind: parsed.kind as TaskKind,
      options,
      retries: parsed.retries as number[],
      timeout: parsed.timeout as number,
    };
    // Literal targets are checked now; templated ones when the task runs.
    if (definition.kind === "http" && typeof options.url === "string") {
      const host = hostOf(options.url);
      if (host !== null) {
        const verdict = checkOutbound(options.url, allowHosts);
        if (!verdict.ok) details.push({ path: at("options", "url"), message: verdict.reason });
      }
    }
    if (definition.kind.startsWith("content.") && typeof options.moduleID === "string" && !hasTemplate(options.moduleID)) {
      moduleRefs.push({ path: at("options", "moduleID"), moduleId: Number(options.moduleID) });
    }
    checked.push({ definition, index });
  });
  return checked;
}

/** The host of a URL whose scheme and authority hold no template; null otherwise. */
function hostOf(url: string): string | null {
  const authority = /^https?:\/\/([^/?#]*)/i.exec(url);
  if (!authority || hasTemplate(authority[1])) return null;
  try {
    return new URL(url.replace(/\{\{[^{}]*\}\}/g, "x")).hostname;
  } catch {
    return null;
  }
}

/**
 * Checks the templates of a list's options. `visible(index)` answers the tasks (by name) a
 * template of the task at `index` may read; `null` marks a task that is itself invalid (its own
 * problems are reported already).
 */
function checkTemplates(
  list: ListName,
  checked: Checked[],
  visible: (index: number) => Map<string, TaskDefinition | null>,
  details: ErrorDetail[],
  allNames: Set<string>,
) {
  for (const { definition, index } of checked) {
    if (!definition) continue;
    const names = visible(index);
    walkStrings(definition.options, (text, path) => {
      const where = formatPath([list, index, "options", ...path]);
      const { refs, problems } = parseTemplates(text);
      for (const problem of problems) details.push({ path: where, message: problem.message });
      for (const ref of refs) {
        // A secret's value must never be stored or logged: only options that are sent, not kept,
        // may hold one. Whether it is set is checked when the task runs (it may be added later).
        if (ref.root === "secrets" && !(definition.kind === "http" && SECRET_OPTIONS.has(String(path[0])))) {
          details.push({ path: where, message: `template ${ref.source}: ${SECRET_PLACEMENT}` });
        }
        if (ref.root !== "tasks") continue;
        const name = ref.path[0];
        if (!names.has(name)) {
          const why =
            name === definition.name
              ? "a task cannot read its own result"
              : allNames.has(name)
                ? `task '${name}' does not run before this one`
                : `there is no task '${name}'`;
          details.push({ path: where, message: `template ${ref.source}: ${why}` });
          continue;
        }
        const target = names.get(name);
        if (target && !KINDS_WITH_RESULT.has(target.kind as TaskKind)) {
          details.push({ path: where, message: `template ${ref.source}: a ${target.kind} task has no result` });
        }
      }
    });
  }
}

const nameOf = (raw: unknown) =>
  raw && typeof raw === "object" && typeof (raw as Record<string, unknown>).name === "string" ? ((raw as Record<string, unknown>).name as string) : undefined;

/** The tasks of a list before `index`, by name (`null` for invalid ones), added to `into`. */
function earlier(input: unknown[], checked: Checked[], index: number, into = new Map<string, TaskDefinition | null>()) {
  for (let i = 0; i < Math.min(index, input.length); i++) {
    const name = nameOf(input[i]);
    if (name !== undefined) into.set(name, checked[i]?.definition ?? null);
  }
  return into;
}

/**
 * The size problem of a workflow definition, if it is over WORKFLOW_MAX_BYTES: measured on what
 * was sent (before any task is checked, so an oversized body costs no validation), and pointed at
 * the larger of the two lists.
 */
export function checkWorkflowSize(input: { name: string; tasks: unknown[]; onError: unknown[] }): ErrorDetail[] {
  const size = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).byteLength;
  const total = size({ name: input.name, tasks: input.tasks, onError: input.onError });
  if (total <= WORKFLOW_MAX_BYTES) return [];
  const path: ListName = size(input.onError) > size(input.tasks) ? "onError" : "tasks";
  return [{ path, message: `the workflow (name, tasks and onError) is ${total} bytes of JSON; at most ${WORKFLOW_MAX_BYTES} (256 KiB)` }];
}

/**
 * Validates both lists. Templates of `tasks` may name earlier tasks of `tasks`; templates of
 * `onError` may name any task of `tasks` and earlier tasks of `onError`; where an onError task
 * has the name of a task of `tasks`, the template means the task of `tasks`.
 */
export function validateTasks(tasksInput: unknown[], onErrorInput: unknown[], allowHosts?: string): ValidatedTasks {
  const details: ErrorDetail[] = [];
  const moduleRefs: ModuleRef[] = [];
  const main = checkList("tasks", tasksInput, details, allowHosts, moduleRefs);
  const handlers = checkList("onError", onErrorInput, details, allowHosts, moduleRefs);

  const mainNames = new Set(tasksInput.map(nameOf).filter((n): n is string => n !== undefined));
  const handlerNames = new Set(onErrorInput.map(nameOf).filter((n): n is string => n !== undefined));
  checkTemplates("tasks", main, (i) => earlier(tasksInput, main, i), details, mainNames);
  checkTemplates(
    "onError",
    handlers,
    // a name in both lists means the task of `tasks` (as the engine's scope has it)
    (i) => earlier(tasksInput, main, tasksInput.length, earlier(onErrorInput, handlers, i)),
    details,
    new Set([...mainNames, ...handlerNames]),
  );

  const done = (list: Checked[]) => list.map((c) => c.definition).filter((d): d is TaskDefinition => d !== undefined);
  return { tasks: done(main), onError: done(handlers), details, moduleRefs };
}
