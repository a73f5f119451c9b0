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
// - names: `localhost` and names under `.localhost`, `.internal`, `.local`, `.localdomain`,
//   `.home.arpa`; single-label names (`http://metadata/`, `http://intranet/`); names that spell
//   a refused IPv4 address as their leading labels (`127.0.0.1.nip.io`, `10-0-0-1.sslip.io`).
//
// Limit: Workers have no DNS API for arbitrary names, so a public-looking name whose DNS
// record points at a private address cannot be detected here. In production the request leaves
// through Cloudflare's network, which does not route to private or loopback addresses of the
// account's infrastructure; locally (wrangler dev) it could, which is why the literal and name
// checks above exist and why HTTP_TASK_ALLOW_HOSTS is empty by default.
import ipaddr from "ipaddr.js";

export type OutboundVerdict = { ok: true; url: URL } | { ok: false; reason: string };

const REFUSED_SUFFIXES = [".localhost", ".internal", ".local", ".localdomain", ".home.arpa"];
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
export function refuseAddress(address: string): string | null {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.parse(address);
  } catch {
    return "not a valid IP address";
  }
  return ip.kind() === "ipv4" ? refuseIPv4(ip as ipaddr.IPv4) : refuseIPv6(ip as ipaddr.IPv6);
}

/** Why a host name (not an IP literal) is refused, or null. */
function refuseName(name: string): string | null {
  if (REFUSED_NAMES.has(name)) return "a local host name";
  const suffix = REFUSED_SUFFIXES.find((s) => name.endsWith(s));
  if (suffix) return `a name under '${suffix}', which is never public`;
  if (!name.includes(".")) return "a single-label name, which is not a public host name";
  // Wildcard DNS services (nip.io, sslip.io, ...) answer the address written in the name.
  const dotted = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\./.exec(name);
  const dashed = /^(?:[a-z0-9-]*?-)?(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})\./.exec(name);
  for (const m of [dotted, dashed]) {
    if (!m) continue;
    const quad = m.slice(1, 5).join(".");
    if (ipaddr.IPv4.isValidFourPartDecimal(quad)) {
      const why = refuseIPv4(ipaddr.IPv4.parse(quad));
      if (why) return `a name that spells ${why} (${quad})`;
    }
  }
  return null;
}

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
  const isIp = ipaddr.isValid(host) && (ipaddr.IPv6.isValid(host) || ipaddr.IPv4.isValidFourPartDecimal(host));
  const why = isIp ? refuseAddress(host) : refuseName(host);
  if (why) {
    return {
      ok: false,
      reason: `refused to reach ${url.hostname}: ${why}; http tasks may only reach public hosts (see HTTP_TASK_ALLOW_HOSTS)`,
    };
  }
  return { ok: true, url };
}
