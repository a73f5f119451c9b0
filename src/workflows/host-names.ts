// What the spelling of a host name says, without asking DNS: whether it is a valid DNS name,
// whether it sits under a top-level domain that is never public, and which IPv4 addresses it
// spells the way wildcard-DNS services (nip.io, sslip.io, ...) read them. Host names come from
// clients, so everything here runs in linear time: lengths are checked first, then the name is
// scanned once, label by label; no pattern can backtrack.

const MAX_NAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;

/**
 * Top-level domains (and one second-level domain) that are never delegated in public DNS:
 * RFC 6761 (`.localhost`, `.test`, `.invalid`, `.example`), RFC 6762 (`.local`), RFC 8375
 * (`.home.arpa`), ICANN's private-use `.internal` (2024), and names routers and company
 * networks use by convention (`.lan`, `.home`, `.corp`, `.intranet`, `.private`,
 * `.localdomain`; ICANN declined to delegate `.home` and `.corp` because of that use).
 */
const PRIVATE_SUFFIXES = [
  ".localhost",
  ".localdomain",
  ".local",
  ".internal",
  ".home.arpa",
  ".lan",
  ".home",
  ".corp",
  ".intranet",
  ".private",
  ".test",
  ".invalid",
  ".example",
] as const;

/** Why `name` (lower case, no trailing dot) is not a valid DNS name, or null. */
export function invalidDnsName(name: string): string | null {
  if (name.length > MAX_NAME_LENGTH) return `a name longer than ${MAX_NAME_LENGTH} characters, which DNS cannot hold`;
  for (const label of name.split(".")) {
    if (label === "") return "a name with an empty label";
    if (label.length > MAX_LABEL_LENGTH) return `a name with a label longer than ${MAX_LABEL_LENGTH} characters, which DNS cannot hold`;
  }
  return null;
}

/** The never-public suffix `name` ends with, or null. */
export function privateSuffixOf(name: string): string | null {
  return PRIVATE_SUFFIXES.find((s) => name.endsWith(s)) ?? null;
}

const isDigit = (c: number) => c >= 48 && c <= 57; // 0-9
const isHexDigit = (c: number) => isDigit(c) || (c >= 97 && c <= 102); // 0-9 a-f (the name is lower case)

/** The value of a decimal octet of 1 to 3 digits (`7`, `010`, `255`), else null. */
function decimalOctet(token: string): number | null {
  if (token.length < 1 || token.length > 3) return null;
  for (let i = 0; i < token.length; i++) if (!isDigit(token.charCodeAt(i))) return null;
  const value = Number(token);
  return value <= 255 ? value : null;
}

/** The dotted quad of 8 hex digits, with or without `0x` (`7f000001`, `0x0a000001`), else null. */
function hexQuad(token: string): string | null {
  const digits = token.length === 10 && token.startsWith("0x") ? token.slice(2) : token;
  if (digits.length !== 8) return null;
  for (let i = 0; i < 8; i++) if (!isHexDigit(digits.charCodeAt(i))) return null;
  const octets = [0, 2, 4, 6].map((i) => parseInt(digits.slice(i, i + 2), 16));
  return octets.join(".");
}

/**
 * The IPv4 addresses (dotted quads) that `name` spells: four decimal octets in a row separated
 * by dots or dashes, at any position (`127.0.0.1.nip.io`, `app.10.0.0.1.nip.io`,
 * `a-10-0-0-1.sslip.io`, `10-0-0-1-app.sslip.io`, `www-192.168.1.1.sslip.io`), and a token of 8
 * hex digits (`7f000001.nip.io`, `app-c0a80001.nip.io`, `0x7f000001.nip.io`). Call it on a
 * name that passed `invalidDnsName`, so the scan is over at most 253 characters.
 */
export function spelledIPv4s(name: string): string[] {
  const found: string[] = [];
  const run: number[] = []; // the decimal octets seen in a row, most recent last
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    const c = i < name.length ? name.charCodeAt(i) : 46;
    if (c !== 46 && c !== 45) continue; // a token ends at "." or "-" (or the end)
    const token = name.slice(start, i);
    start = i + 1;
    const octet = decimalOctet(token);
    if (octet === null) run.length = 0;
    else {
      run.push(octet);
      if (run.length > 4) run.shift();
      if (run.length === 4) found.push(run.join("."));
    }
    const hex = hexQuad(token);
    if (hex !== null) found.push(hex);
  }
  return found;
}
