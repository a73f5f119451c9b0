// The outbound guard of `http` tasks: only http/https to public hosts.
//
// Refused (unless the host is listed in HTTP_TASK_ALLOW_HOSTS):
// - any scheme but http and https;
// - IP literals that are not public unicast: loopback (127/8, ::1), private (10/8, 172.16/12,
//   192.168/16, fc00::/7), link-local (169.254/16 with the 169.254.169.254 metadata address,
//   fe80::/10), unspecified (0.0.0.0/8, ::), carrier-grade NAT (100.64/10), broadcast,
//   multicast, reserved and documentation ranges, IPv4-mapped / IPv4-compatible IPv6 forms of
//   a refused IPv4 (::ffff:127.0.0.1, ::ffff:7f00:1, ::127.0.0.1), and IPv6 transition ranges
//   that can carry any IPv4 address (NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo 2001::/32);
//   decimal, octal, hex and short IPv4 spellings (2130706433, 0177.0.0.1, 0x7f.1, 127.1) are
//   normalised to dotted quads by the URL parser before the check, so they are refused too;
// - names, by their spelling (host-names.ts): invalid DNS names; `localhost`; names under a
//   never-public suffix (`.local`, `.internal`, `.lan`, `.corp`, ...); single-label names
//   (`http://metadata/`); names that spell a refused IPv4 address anywhere, as wildcard-DNS
//   services read them (`app.127.0.0.1.nip.io`, `a-10-0-0-1.sslip.io`, `7f000001.nip.io`);
// - names whose A or AAAA records include any address refused above, or that do not resolve,
//   or whose lookup fails (checkOutboundResolved; dns.ts asks DNS_RESOLVER_URL over HTTPS).
//
// checkOutbound judges the spelling only (no I/O: workflow validation uses it at save time);
// checkOutboundResolved adds the DNS lookup and is what runs before a request is sent.
// Limit: the name is resolved again by the runtime when the request is sent, so a record that
// changes in between (DNS rebinding with a short TTL) is not seen. In production the request
// leaves through Cloudflare's network, which does not route to the account's private or
// loopback addresses; locally (wrangler dev) it could, which is why HTTP_TASK_ALLOW_HOSTS is
// empty by default.
import ipaddr from "ipaddr.js";
import { resolveAddresses, ResolveError } from "./dns";
import { invalidDnsName, privateSuffixOf, spelledIPv4s } from "./host-names";

type OutboundVerdict = { ok: true; url: URL } | { ok: false; reason: string };

const REFUSED_NAMES = new Set(["localhost", "localhost.localdomain"]);

/** Lower case, without IPv6 brackets or a trailing dot; IP literals in canonical form. */
export function normaliseHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  h = h.replace(/\.+$/, "");
  if (ipaddr.isValid(h)) {
    try {
      return ipaddr.parse(h).toString();
    } catch {
      return h;
    }
  }
  return h;
}

/** The hosts of HTTP_TASK_ALLOW_HOSTS (comma-separated names or IPs), normalised. */
export function parseAllowHosts(raw: string | undefined): Set<string> {
  return new Set(
    (raw ?? "")
      .split(",")
      .map((h) => h.trim())
      .filter(Boolean)
      .map(normaliseHost),
  );
}

/** Why an IPv4 address is refused, or null when it is public unicast. */
function refuseIPv4(ip: ipaddr.IPv4): string | null {
  const range = ip.range();
  if (range === "unicast") return null;
  const names: Record<string, string> = {
    loopback: "a loopback address",
    private: "a private address",
    linkLocal: ip.toString() === "169.254.169.254" ? "the cloud metadata address" : "a link-local address",
    unspecified: "an unspecified address",
    carrierGradeNat: "a carrier-grade NAT (shared) address",
    broadcast: "the broadcast address",
    multicast: "a multicast address",
  };
  return names[range] ?? `a reserved address (${range})`;
}

/** Why an IPv6 address is refused, or null when it is public unicast. */
function refuseIPv6(ip: ipaddr.IPv6): string | null {
  const parts = ip.parts;
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) forms: judge the IPv4 inside.
  const zeros80 = parts.slice(0, 5).every((p) => p === 0);
  if (zeros80 && (parts[5] === 0xffff || (parts[5] === 0 && (parts[6] !== 0 || parts[7] > 1)))) {
    const v4 = new ipaddr.IPv4([parts[6] >> 8, parts[6] & 0xff, parts[7] >> 8, parts[7] & 0xff]);
    const why = refuseIPv4(v4);
    return why ? `${why} (${v4.toString()}) in IPv6 form` : null;
  }
  const range = ip.range();
  if (range === "unicast") return null;
  const names: Record<string, string> = {
    loopback: "a loopback address",
    uniqueLocal: "a private (unique local) address",
    linkLocal: "a link-local address",
    deprecatedSiteLocal: "a site-local address",
    unspecified: "an unspecified address",
    multicast: "a multicast address",
    rfc6052: "a NAT64 address (it can carry any IPv4 address)",
    rfc6145: "an IPv4-translated address",
    "6to4": "a 6to4 address (it can carry any IPv4 address)",
    teredo: "a Teredo address (it can carry any IPv4 address)",
  };
  return names[range] ?? `a reserved address (${range})`;
}

/** Why an IP literal is refused, or null when it is public. */
function refuseAddress(address: string): string | null {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.parse(address);
  } catch {
    return "not a valid IP address";
  }
  return ip.kind() === "ipv4" ? refuseIPv4(ip as ipaddr.IPv4) : refuseIPv6(ip as ipaddr.IPv6);
}

/** Why a host name (not an IP literal) is refused by its spelling alone, or null. */
function refuseName(name: string): string | null {
  const invalid = invalidDnsName(name); // lengths first: what follows scans at most 253 characters
  if (invalid) return invalid;
  if (REFUSED_NAMES.has(name)) return "a local host name";
  const suffix = privateSuffixOf(name);
  if (suffix) return `a name under '${suffix}', which is never public`;
  if (!name.includes(".")) return "a single-label name, which is not a public host name";
  // Wildcard DNS services (nip.io, sslip.io, ...) answer the address written in the name.
  for (const quad of spelledIPv4s(name)) {
    const why = refuseIPv4(ipaddr.IPv4.parse(quad));
    if (why) return `a name that spells ${why} (${quad})`;
  }
  return null;
}

const isIpLiteral = (host: string) => ipaddr.isValid(host) && (ipaddr.IPv6.isValid(host) || ipaddr.IPv4.isValidFourPartDecimal(host));

const refusal = (hostname: string, why: string): OutboundVerdict => ({
  ok: false,
  reason: `refused to reach ${hostname}: ${why}; http tasks may only reach public hosts (see HTTP_TASK_ALLOW_HOSTS)`,
});

/**
 * Checks a URL an `http` task is about to request. `allowHosts` is HTTP_TASK_ALLOW_HOSTS
 * (a raw comma-separated string or an already parsed set).
 */
export function checkOutbound(target: string | URL, allowHosts?: string | Set<string>): OutboundVerdict {
  let url: URL;
  try {
    url = typeof target === "string" ? new URL(target) : target;
  } catch {
    return { ok: false, reason: `'${String(target).slice(0, 200)}' is not a valid URL` };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { ok: false, reason: `the scheme '${url.protocol.replace(/:$/, "")}' is not allowed: only http and https` };
  }
  const host = normaliseHost(url.hostname);
  if (host === "") return { ok: false, reason: "the URL has no host" };
  const allowed = typeof allowHosts === "string" || allowHosts === undefined ? parseAllowHosts(allowHosts) : allowHosts;
  if (allowed.has(host)) return { ok: true, url };
  const why = isIpLiteral(host) ? refuseAddress(host) : refuseName(host);
  return why ? refusal(url.hostname, why) : { ok: true, url };
}

/** The settings checkOutboundResolved reads (a subset of the Worker's Env). */
type OutboundEnv = { HTTP_TASK_ALLOW_HOSTS?: string; DNS_RESOLVER_URL?: string };

/**
 * checkOutbound, then, for a name that is not allow-listed, its A and AAAA records: refused when
 * any of them is not a public address, when the name does not resolve, and when the lookup
 * fails (fail closed). `signal` aborts the lookup (the attempt's signal); the lookup has its own
 * timeout too (DNS_TIMEOUT_MS).
 */
export async function checkOutboundResolved(target: string | URL, env: OutboundEnv, signal?: AbortSignal): Promise<OutboundVerdict> {
  const allowed = parseAllowHosts(env.HTTP_TASK_ALLOW_HOSTS);
  const verdict = checkOutbound(target, allowed);
  if (!verdict.ok) return verdict;
  const { hostname } = verdict.url;
  const host = normaliseHost(hostname);
  if (allowed.has(host) || isIpLiteral(host)) return verdict;
  let addresses: string[];
  try {
    addresses = await resolveAddresses(host, { resolverUrl: env.DNS_RESOLVER_URL, signal });
  } catch (err) {
    if (err instanceof ResolveError) return { ok: false, reason: `could not resolve ${hostname}: ${err.message}` };
    throw err;
  }
  if (addresses.length === 0) return { ok: false, reason: `${hostname} does not resolve (no A or AAAA record)` };
  for (const address of addresses) {
    const why = refuseAddress(address);
    if (why) return refusal(hostname, `it resolves to ${why} (${ipaddr.parse(address).toString()})`);
  }
  return verdict;
}
