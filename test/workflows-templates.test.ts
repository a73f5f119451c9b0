import { describe, expect, it } from "vitest";
import { hasTemplate, parseTemplates, renderTemplates, TemplateError } from "../src/workflows/templates";
import { TaskFailure, type TemplateScope } from "../src/jobs/tasks";

const scope: TemplateScope = {
  params: { leadID: "42", name: "Ada", empty: "" },
  job: { jobID: "31" },
  tasks: {
    notify: { status: 201, headers: { "content-type": "application/json" }, body: { id: 7, items: [{ id: "a" }, { id: "b" }], ok: true, none: null } },
    make: { contentID: "99", fields: [{ name: "title", value: "T" }] },
  },
};

describe("parseTemplates", () => {
  it("finds templates with their roots and paths", () => {
    const { refs, problems } = parseTemplates("a {{params.leadID}} b {{ job.jobID }} {{tasks.notify.body.items[1].id}} {{tasks.make}}");
    expect(problems).toEqual([]);
    expect(refs.map((r) => [r.root, r.path])).toEqual([
      ["params", ["leadID"]],
      ["job", ["jobID"]],
      ["tasks", ["notify", "body", "items", "1", "id"]],
      ["tasks", ["make"]],
    ]);
  });

  it("reports unknown roots and malformed expressions", () => {
    for (const bad of [
      "{{user.x}}",
      "{{}}",
      "{{ }}",
      "{{params}}",
      "{{params.a.b}}",
      "{{job}}",
      "{{job.status}}",
      "{{tasks}}",
      "{{params..a}}",
      "{{params.a b}}",
      "{{env.JWT_SECRET}}",
    ]) {
      const { refs, problems } = parseTemplates(`x ${bad} y`);
      expect(refs, bad).toEqual([]);
      expect(problems, bad).toHaveLength(1);
      expect(problems[0].source).toBe(bad);
    }
    expect(parseTemplates("{{user.x}}").problems[0].message).toContain("unknown template root 'user'");
  });

  it("leaves text without a closed template alone", () => {
    expect(parseTemplates("{{ not closed").refs).toEqual([]);
    expect(parseTemplates("{ params.a }").problems).toEqual([]);
    expect(hasTemplate("a {{params.a}}")).toBe(true);
    expect(hasTemplate("a {{params.a")).toBe(false);
  });
});

describe("renderTemplates", () => {
  it("replaces templates inside strings with their text", () => {
    expect(renderTemplates("Lead {{params.leadID}} of job {{job.jobID}}: {{tasks.notify.status}}", scope)).toBe("Lead 42 of job 31: 201");
    expect(renderTemplates("ok={{tasks.notify.body.ok}} none=[{{tasks.notify.body.none}}] e=[{{params.empty}}]", scope)).toBe("ok=true none=[] e=[]");
    expect(renderTemplates("items={{tasks.notify.body.items}}", scope)).toBe('items=[{"id":"a"},{"id":"b"}]');
    expect(renderTemplates("{{ tasks.notify.body.items.1.id }}!", scope)).toBe("b!");
  });

  it("keeps the type of a string that is exactly one template", () => {
    expect(renderTemplates("{{tasks.notify.status}}", scope)).toBe(201);
    expect(renderTemplates("{{tasks.notify.body.ok}}", scope)).toBe(true);
    expect(renderTemplates("{{tasks.notify.body.none}}", scope)).toBe(null);
    expect(renderTemplates("{{tasks.notify.body.items}}", scope)).toEqual([{ id: "a" }, { id: "b" }]);
    expect(renderTemplates("{{params.leadID}}", scope)).toBe("42");
    // a copy, not the scope's own object
    const items = renderTemplates("{{tasks.notify.body.items}}", scope) as unknown[];
    items.push(1);
    expect((scope.tasks.notify as any).body.items).toHaveLength(2);
  });

  it("renders every string of nested options and leaves other values and keys alone", () => {
    const options = {
      url: "https://x.example/{{params.leadID}}",
      headers: { "x-job": "{{job.jobID}}" },
      body: { "{{params.name}}": ["{{tasks.notify.body.id}}", 5, false, null, { deep: "id {{tasks.make.contentID}}" }] },
      fields: [{ name: "title", value: "{{tasks.make.fields[0].value}}" }],
    };
    const copy = structuredClone(options);
    expect(renderTemplates(options, scope)).toEqual({
      url: "https://x.example/42",
      headers: { "x-job": "31" },
      body: { "{{params.name}}": [7, 5, false, null, { deep: "id 99" }] },
      fields: [{ name: "title", value: "T" }],
    });
    expect(options).toEqual(copy);
  });

  it("renders once: values that look like templates stay as they are", () => {
    const s: TemplateScope = { ...scope, params: { a: "{{params.b}}", b: "secret" } };
    expect(renderTemplates("x {{params.a}}", s)).toBe("x {{params.b}}");
    expect(renderTemplates("{{params.a}}", s)).toBe("{{params.b}}");
  });

  it("keeps a key named __proto__ a plain key", () => {
    const out = renderTemplates(JSON.parse('{"__proto__": {"polluted": "{{params.leadID}}"}}'), scope) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(["__proto__"]);
    expect(({} as any).polluted).toBeUndefined();
  });

  it("fails with a TaskFailure naming the template when a value is missing", () => {
    const cases: [string, string][] = [
      ["{{params.nope}}", "no parameter 'nope'"],
      ["x {{tasks.later.body}}", "task 'later' has no result"],
      ["{{tasks.notify.body.missing}}", "no value at that path"],
      ["{{tasks.notify.body.items.5}}", "no value at that path"],
      ["{{tasks.notify.status.x}}", "no value at that path"],
      ["{{bogus.x}}", "unknown template root"],
    ];
    for (const [text, message] of cases) {
      let error: unknown;
      try {
        renderTemplates({ a: [text] }, scope);
      } catch (e) {
        error = e;
      }
      expect(error, text).toBeInstanceOf(TemplateError);
      expect(error).toBeInstanceOf(TaskFailure);
      expect((error as Error).message, text).toContain(message);
    }
  });
});
