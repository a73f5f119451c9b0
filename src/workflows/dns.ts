// Resolves a host name's A and AAAA records over DNS over HTTPS (the JSON API that Cloudflare,
// Google and others answer: GET ?name=&type= with `accept: application/dns-json`). Workers have
// no DNS API for arbitrary names; a subrequest to a DoH resolver is the way to ask. The outbound
// guard uses it to refuse names that lead to private addresses, so every doubt is an error
// (fail closed): a resolver that fails, is slow, or answers something unexpected.
import ipaddr from "ipaddr.js";

const DEFAULT_DNS_RESOLVER_URL = "https://cloudflare-dns.com/dns-query";
/** How long both lookups together may take. */
const DNS_TIMEOUT_MS = 5000;
/** Bytes read of one resolver answer: a real answer for A or AAAA is well under 4 KiB. */
const DNS_ANSWER_LIMIT = 16 * 1024;
/** Records looked at in one answer (a CNAME chain plus addresses); more is refused. */
const DNS_MAX_RECORDS = 64;

const RECORD_A = 1;
const RECORD_AAAA = 28;
const RCODES: Record<number, string> = { 1: "FORMERR", 2: "SERVFAIL", 4: "NOTIMP", 5: "REFUSED" };

/** The lookup could not be made or its answer cannot be trusted; the message says why. */
export class ResolveError extends Error {}

type ResolveOptions = { resolverUrl?: string; signal?: AbortSignal; timeoutMs?: number };

/**
 * The addresses `name` resolves to (A and AAAA, CNAME chains followed by the resolver), or []
 * when the name does not exist or has no address records. Throws a ResolveError otherwise.
 */
export async function resolveAddresses(name: string, options: ResolveOptions = {}): Promise<string[]> {
  const resolver = resolverUrl(options.resolverUrl);
  const timeoutMs = options.timeoutMs ?? DNS_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const done = new AbortController(); // stops the other lookup once one has failed
  const signals = [timeout, done.signal, ...(options.signal ? [options.signal] : [])];
  const signal = AbortSignal.any(signals);
  try {
    // The race makes the deadline hold even if a lookup ignores its signal.
    const both = Promise.all([lookup(resolver, name, "A", signal), lookup(resolver, name, "AAAA", signal)]);
    const [a, aaaa] = await Promise.race([both, rejectOnAbort(signal)]);
    return [...a, ...aaaa];
  } catch (err) {
    if (options.signal?.aborted) throw new ResolveError(`aborted: ${reasonText(options.signal.reason)}`);
    if (timeout.aborted) throw new ResolveError(`the resolver did not answer within ${timeoutMs / 1000} s`);
    if (err instanceof ResolveError) throw err;
    throw new ResolveError(`the resolver could not be reached: ${reasonText(err)}`);
  } finally {
    done.abort();
  }
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

function resolverUrl(raw: string | undefined): URL {
  const text = raw?.trim() || DEFAULT_DNS_RESOLVER_URL;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ResolveError(`the resolver URL '${text.slice(0, 100)}' (DNS_RESOLVER_URL) is not a valid URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ResolveError(`the resolver URL '${text.slice(0, 100)}' (DNS_RESOLVER_URL) is not an http or https URL`);
  }
  return url;
}

async function lookup(resolver: URL, name: string, type: "A" | "AAAA", signal: AbortSignal): Promise<string[]> {
  const url = new URL(resolver);
  url.searchParams.set("name", name);
  url.searchParams.set("type", type);
  const res = await globalThis.fetch(url.toString(), { headers: { accept: "application/dns-json" }, redirect: "manual", signal });
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => {});
    throw new ResolveError(`the resolver answered HTTP ${res.status} for ${type}`);
  }
  const text = await readLimited(res, DNS_ANSWER_LIMIT, signal);
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new ResolveError(`the resolver's answer for ${type} is not JSON`);
  }
  return addressesOf(answer, type);
}

/** The addresses of a DoH JSON answer, checked record by record. */
function addressesOf(answer: unknown, type: "A" | "AAAA"): string[] {
  if (!isObject(answer) || typeof answer.Status !== "number") throw new ResolveError(`the resolver's answer for ${type} is not a DNS answer`);
  if (answer.Status === 3) return []; // NXDOMAIN: the name does not exist
  if (answer.Status !== 0) throw new ResolveError(`the resolver answered ${RCODES[answer.Status] ?? `rcode ${answer.Status}`} for ${type}`);
  if (answer.Answer === undefined) return [];
  if (!Array.isArray(answer.Answer)) throw new ResolveError(`the resolver's answer for ${type} is not a DNS answer`);
  if (answer.Answer.length > DNS_MAX_RECORDS) throw new ResolveError(`the resolver answered more than ${DNS_MAX_RECORDS} records for ${type}`);
  const addresses: string[] = [];
  for (const record of answer.Answer) {
    if (!isObject(record)) throw new ResolveError(`the resolver's answer for ${type} is not a DNS answer`);
    // Other records (the CNAME chain, signatures) are the resolver's business: judge addresses.
    if (record.type === RECORD_A) {
      if (typeof record.data !== "string" || !ipaddr.IPv4.isValidFourPartDecimal(record.data)) {
        throw new ResolveError(`the resolver answered an A record that is not an IPv4 address: ${shown(record.data)}`);
      }
      addresses.push(record.data);
    } else if (record.type === RECORD_AAAA) {
      if (typeof record.data !== "string" || !ipaddr.IPv6.isValid(record.data)) {
        throw new ResolveError(`the resolver answered an AAAA record that is not an IPv6 address: ${shown(record.data)}`);
      }
      addresses.push(record.data);
    }
  }
  return addresses;
}

/** The body as text, refusing more than `limit` bytes; stops reading when `signal` aborts. */
async function readLimited(res: Response, limit: number, signal: AbortSignal): Promise<string> {
  const tooLarge = () => new ResolveError(`the resolver's answer is larger than ${limit} bytes`);
  if (Number(res.headers.get("content-length")) > limit) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const stop = () => void reader.cancel(signal.reason).catch(() => {});
  signal.addEventListener("abort", stop, { once: true });
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (signal.aborted) throw signal.reason;
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        stop();
        throw tooLarge();
      }
      chunks.push(value);
    }
  } finally {
    signal.removeEventListener("abort", stop);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const shown = (v: unknown) => JSON.stringify(v ?? null).slice(0, 60);

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return typeof reason === "string" ? reason : String(reason);
}
