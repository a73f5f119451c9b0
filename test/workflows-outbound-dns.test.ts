// The outbound guard resolves names before an `http` task sends anything: a name whose A or
// AAAA records are not all public is refused. The resolver (DNS over HTTPS, JSON API) is the
// DNS_RESOLVER_URL setting; vitest.config.ts points it at https://dns.test/dns-query and a stub
// of globalThis.fetch answers it here, next to the task's target, recording what reached each.
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { resolveAddresses } from "../src/workflows/dns";
import { executeTask } from "../src/workflows/execute";
import { checkOutboundResolved } from "../src/workflows/outbound-guard";
import type { TaskDefinition, TemplateScope } from "../src/jobs/tasks";
import { isFinal, logsOf, makeJob, makeWorkflow, waitForJob } from "./jobs-helpers";
import { failure } from "./helpers";

const RESOLVER = "https://dns.test/dns-query";
const A = 1;
const AAAA = 28;
const CNAME = 5;

type Rec = { type: number; data: string };
type DnsQuery = { name: string; type: string; accept: string | null };

/** A resolver answer in the DoH JSON format. */
const dnsAnswer = (records: Rec[] | undefined, Status = 0) =>
  Response.json(
    { Status, TC: false, RD: true, RA: true, AD: false, CD: false, Question: [{ name: "x", type: 1 }], ...(records ? { Answer: records } : {}) },
    { headers: { "content-type": "application/dns-json" } },
  );

/** A zone: the A and AAAA records of each name; names not listed are NXDOMAIN. */
const zone =
  (names: Record<string, { a?: string[]; aaaa?: string[]; cname?: string }>) =>
  (q: DnsQuery): Response => {
    const entry = names[q.name];
    if (!entry) return dnsAnswer(undefined, 3);
    const wanted = q.type === "A" ? (entry.a ?? []).map((data) => ({ type: A, data })) : (entry.aaaa ?? []).map((data) => ({ type: AAAA, data }));
    const chain = entry.cname ? [{ type: CNAME, data: `${entry.cname}.` }] : [];
    return dnsAnswer([...chain, ...wanted]);
  };

/** Stubs fetch: the resolver's URL goes to `resolver`, anything else is the task's target. */
function stubNet(resolver: (q: DnsQuery, init?: RequestInit) => Response | Promise<Response>, target: () => Response = () => new Response("reached")) {
  const queries: DnsQuery[] = [];
  const sent: string[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: any, init?: any) => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    if (`${url.origin}${url.pathname}` === RESOLVER) {
      const q = { name: url.searchParams.get("name") ?? "", type: url.searchParams.get("type") ?? "", accept: req.headers.get("accept") };
      queries.push(q);
      return resolver(q, init);
    }
    sent.push(req.url);
    return target();
  });
  return { queries, sent };
}

afterEach(() => {
  vi.restoreAllMocks();
});

const scope: TemplateScope = { params: {}, job: { jobID: "1", userID: "5" }, tasks: {} };
const httpTask = (url: string, timeout = 30): TaskDefinition => ({ name: "call", kind: "http", options: { url }, retries: [], timeout });
const run = (url: string, signal = new AbortController().signal) => executeTask(env, httpTask(url), scope, signal);

/** Settles with the promise, or rejects when it takes longer than `ms` (so a hang fails the test). */
const promptly = <T>(promise: Promise<T>, ms = 2000) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms))]);

describe("names are resolved before an http task sends anything", () => {
  it("test setup: the resolver setting points at the stub", () => {
    expect(env.DNS_RESOLVER_URL).toBe(RESOLVER);
  });

  it("a name with only public addresses is resolved (A and AAAA) and then reached", async () => {
    const { queries, sent } = stubNet(zone({ "hooks.acme-crm.com": { a: ["93.184.216.34"], aaaa: ["2606:2800:220:1:248:1893:25c8:1946"] } }));
    const outcome = await run("https://hooks.acme-crm.com/lead?x=1");
    expect(outcome.result).toMatchObject({ status: 200, body: "reached" });
    expect(sent).toEqual(["https://hooks.acme-crm.com/lead?x=1"]);
    expect(queries.map((q) => `${q.name} ${q.type}`).sort()).toEqual(["hooks.acme-crm.com A", "hooks.acme-crm.com AAAA"]);
    expect(queries.every((q) => q.accept === "application/dns-json")).toBe(true);
  });

  it("a public name behind a CNAME chain is judged by its addresses", async () => {
    const { sent } = stubNet(zone({ "www.acme-crm.com": { cname: "edge.cdn-host.net", a: ["104.16.1.1"] } }));
    await run("https://www.acme-crm.com/");
    expect(sent).toEqual(["https://www.acme-crm.com/"]);
  });

  const refusedCases: Array<[string, { a?: string[]; aaaa?: string[]; cname?: string }, RegExp]> = [
    ["loopback IPv4", { a: ["127.0.0.1"] }, /resolves to a loopback address \(127\.0\.0\.1\)/],
    ["private IPv4", { a: ["10.1.2.3"] }, /resolves to a private address \(10\.1\.2\.3\)/],
    ["loopback IPv6", { aaaa: ["::1"] }, /resolves to a loopback address \(::1\)/],
    ["link-local IPv6", { aaaa: ["fe80::1"] }, /resolves to a link-local address \(fe80::1\)/],
    ["unspecified", { a: ["0.0.0.0"] }, /resolves to an unspecified address \(0\.0\.0\.0\)/],
    ["the metadata address", { a: ["169.254.169.254"] }, /metadata address/],
    ["public and private IPv4 mixed", { a: ["93.184.216.34", "192.168.1.20"] }, /private address \(192\.168\.1\.20\)/],
    ["public IPv4 with private IPv6", { a: ["93.184.216.34"], aaaa: ["fd00::5"] }, /private \(unique local\) address \(fd00::5\)/],
    ["an IPv4-mapped loopback in AAAA", { aaaa: ["::ffff:127.0.0.1"] }, /loopback/],
    ["a CNAME to a private address", { cname: "db.corp-net.example", a: ["10.0.0.7"] }, /private address \(10\.0\.0\.7\)/],
  ];
  for (const [what, records, why] of refusedCases) {
    it(`refuses a name that resolves to ${what}, and sends nothing`, async () => {
      const { sent } = stubNet(zone({ "rebind.attacker-site.com": records }));
      const err = await failure(run("http://rebind.attacker-site.com/admin"));
      expect(err.message).toMatch(/^http request not sent: refused to reach rebind\.attacker-site\.com: /);
      expect(err.message).toMatch(why);
      expect(sent).toEqual([]);
    });
  }

  it("refuses a name that does not resolve (NXDOMAIN, or no address records)", async () => {
    const { sent } = stubNet(zone({ "empty.acme-crm.com": { cname: "nowhere.acme-crm.com" } }));
    const nx = await failure(run("https://no-such-name.acme-crm.com/"));
    expect(nx.message).toBe("http request not sent: no-such-name.acme-crm.com does not resolve (no A or AAAA record)");
    const empty = await failure(run("https://empty.acme-crm.com/"));
    expect(empty.message).toBe("http request not sent: empty.acme-crm.com does not resolve (no A or AAAA record)");
    expect(sent).toEqual([]);
  });

  const resolverFailures: Array<[string, (q: DnsQuery) => Response | Promise<Response>, RegExp]> = [
    ["answers HTTP 500", () => new Response("oops", { status: 500 }), /the resolver answered HTTP 500/],
    ["answers HTML", () => new Response("<html>hi</html>", { headers: { "content-type": "text/html" } }), /not JSON/],
    ["answers JSON of another shape", () => Response.json({ hello: "world" }), /not a DNS answer/],
    ["answers an Answer that is not a list", () => Response.json({ Status: 0, Answer: "10.0.0.1" }), /not a DNS answer/],
    ["answers an A record that is not an address", () => dnsAnswer([{ type: A, data: "evil" }]), /not an IPv4 address/],
    ["answers an AAAA record that is not an address", (q) => dnsAnswer(q.type === "AAAA" ? [{ type: AAAA, data: "10.0.0.1" }] : []), /not an IPv6 address/],
    ["answers SERVFAIL", () => dnsAnswer(undefined, 2), /SERVFAIL/],
    ["fails only for AAAA", (q) => (q.type === "AAAA" ? new Response("", { status: 502 }) : dnsAnswer([{ type: A, data: "93.184.216.34" }])), /HTTP 502/],
    [
      "cannot be reached",
      () => {
        throw new TypeError("Network connection lost.");
      },
      /Network connection lost/,
    ],
    ["answers too much", () => new Response(`{"Status":0,"Answer":[${'{"type":1,"data":"93.184.216.34"},'.repeat(3000)}{}]}`), /larger than/],
    ["answers too many records", () => dnsAnswer(Array.from({ length: 65 }, () => ({ type: A, data: "93.184.216.34" }))), /more than 64 records/],
  ];
  for (const [what, resolver, why] of resolverFailures) {
    it(`fails closed when the resolver ${what}`, async () => {
      const { sent } = stubNet(resolver);
      const err = await failure(promptly(run("https://api.acme-crm.com/x")));
      expect(err.message).toMatch(/^http request not sent: could not resolve api\.acme-crm\.com: /);
      expect(err.message).toMatch(why);
      expect(sent).toEqual([]);
    });
  }

  it("a resolver that never answers is abandoned when the attempt is aborted", async () => {
    const { sent } = stubNet(
      (_q, init) =>
        new Promise<Response>((_, reject) => {
          const signal = init!.signal!;
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
    );
    const ctrl = new AbortController();
    const pending = run("https://slow-dns.acme-crm.com/", ctrl.signal);
    setTimeout(() => ctrl.abort(new Error("job cancelled")), 20);
    const err = await failure(promptly(pending));
    expect(err.message).toBe("http request not sent: could not resolve slow-dns.acme-crm.com: aborted: job cancelled");
    expect(sent).toEqual([]);
  });

  it("a resolver that never answers times out", async () => {
    stubNet(() => new Promise<Response>(() => {}));
    const started = Date.now();
    const err = await promptly(resolveAddresses("slow.acme-crm.com", { resolverUrl: RESOLVER, timeoutMs: 50 }).catch((e: Error) => e));
    expect(String(err)).toContain("the resolver did not answer within 0.05 s");
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("names refused by their spelling, allow-listed hosts and IP literals are not looked up", async () => {
    const { queries, sent } = stubNet(zone({}));
    for (const url of [
      "http://app.127.0.0.1.nip.io/",
      "http://7f000001.nip.io/",
      "http://a.10-0-0-1.sslip.io/",
      "http://router.lan/",
      "http://localtest.me.internal/",
    ]) {
      expect((await failure(run(url))).message, url).toMatch(/^http request not sent: refused to reach /);
    }
    expect(queries).toEqual([]);
    expect(sent).toEqual([]);
    await run("http://test.local/hook"); // HTTP_TASK_ALLOW_HOSTS
    await run("http://8.8.8.8/"); // a public literal is judged as it is
    expect(queries).toEqual([]);
    expect(sent).toEqual(["http://test.local/hook", "http://8.8.8.8/"]);
  });

  it("the names of the issue are refused once DNS answers their private addresses", async () => {
    const { sent } = stubNet(zone({ "localtest.me": { a: ["127.0.0.1"] }, "lvh.me": { a: ["127.0.0.1"], aaaa: ["::1"] } }));
    for (const host of ["localtest.me", "lvh.me", "sub.localtest.me"]) {
      const err = await failure(run(`http://${host}/`));
      expect(err.message, host).toMatch(host === "sub.localtest.me" ? /does not resolve/ : /loopback/);
    }
    expect(sent).toEqual([]);
  });
});

describe("checkOutboundResolved", () => {
  it("uses the public resolver by default, and the setting when given", async () => {
    const seen: string[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input: any) => {
      seen.push(String(input instanceof Request ? input.url : input));
      return dnsAnswer([{ type: A, data: "93.184.216.34" }]);
    });
    expect((await checkOutboundResolved("https://a.acme-crm.com/", {})).ok).toBe(true);
    expect((await checkOutboundResolved("https://b.acme-crm.com/", { DNS_RESOLVER_URL: "https://doh.example.net/q?x=1" })).ok).toBe(true);
    expect(
      seen
        .map((u) => new URL(u))
        .map((u) => `${u.origin}${u.pathname} ${u.searchParams.get("name")} ${u.searchParams.get("type")}`)
        .sort(),
    ).toEqual([
      "https://cloudflare-dns.com/dns-query a.acme-crm.com A",
      "https://cloudflare-dns.com/dns-query a.acme-crm.com AAAA",
      "https://doh.example.net/q b.acme-crm.com A",
      "https://doh.example.net/q b.acme-crm.com AAAA",
    ]);
  });

  it("fails closed on a resolver setting that is not an http(s) URL", async () => {
    const verdict = await checkOutboundResolved("https://a.acme-crm.com/", { DNS_RESOLVER_URL: "not a url" });
    expect(verdict).toEqual({ ok: false, reason: expect.stringMatching(/^could not resolve a\.acme-crm\.com: the resolver URL .* is not/) });
  });
});

describe("end to end: a job whose http task names a private host", () => {
  it("fails the job with the reason in its error and log, and nothing reaches the target", async () => {
    const { sent } = stubNet(zone({ "crm-hook.attacker-site.com": { a: ["10.0.0.9"] } }));
    const wf = await makeWorkflow([{ name: "call", kind: "http", options: { url: "http://{{params.host}}/x" } }]);
    const job = await makeJob(wf, { parameters: { host: "crm-hook.attacker-site.com" } });
    const done = await waitForJob(job.jobID, isFinal);
    expect(done.status).toBe("error");
    expect(done.error).toBe(
      "task 'call' failed: http request not sent: refused to reach crm-hook.attacker-site.com: it resolves to a private address (10.0.0.9); http tasks may only reach public hosts (see HTTP_TASK_ALLOW_HOSTS)",
    );
    const logs = await logsOf(job.jobID);
    expect(logs.some((l) => l.task === "call" && l.message.includes("resolves to a private address (10.0.0.9)"))).toBe(true);
    expect(sent).toEqual([]);
  });
});
