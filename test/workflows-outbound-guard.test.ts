import { describe, expect, it } from "vitest";
import { checkOutbound, normaliseHost, parseAllowHosts } from "../src/workflows/outbound-guard";

const TEST_ALLOW = "127.0.0.1,localhost,test.local";

const refused = (url: string, allow?: string | Set<string>) => {
  const verdict = checkOutbound(url, allow);
  expect(verdict.ok, `${url} should be refused`).toBe(false);
  return verdict.ok ? "" : verdict.reason;
};
const allowed = (url: string, allow?: string | Set<string>) => {
  const verdict = checkOutbound(url, allow);
  expect(verdict.ok, `${url} should be allowed: ${verdict.ok ? "" : verdict.reason}`).toBe(true);
};

describe("outbound guard", () => {
  it("allows public http and https hosts", () => {
    allowed("https://hooks.example.com/x?a=1");
    allowed("http://api.example.org:8080/");
    allowed("http://8.8.8.8/");
    allowed("http://[2606:4700:4700::1111]/");
    allowed("http://[::ffff:8.8.8.8]/");
  });

  it("allows only http and https", () => {
    for (const url of ["ftp://example.com/", "file:///etc/passwd", "ws://example.com/", "data:text/plain,hi", "javascript:alert(1)"]) {
      expect(refused(url)).toContain("only http and https");
    }
    expect(refused("not a url")).toContain("not a valid URL");
  });

  it("refuses loopback addresses in every spelling", () => {
    for (const url of [
      "http://127.0.0.1/",
      "http://127.1.2.3:8080/",
      "http://2130706433/", // decimal
      "http://0x7f000001/", // hex
      "http://0177.0.0.1/", // octal
      "http://127.1/", // short form
      "http://%31%32%37.0.0.1/", // percent-encoded
      "http://[::1]/",
      "http://[0:0:0:0:0:0:0:1]/",
      "http://[::ffff:127.0.0.1]/", // IPv4-mapped
      "http://[::ffff:7f00:1]/",
      "http://[0:0:0:0:0:ffff:7f00:1]/",
      "http://[::127.0.0.1]/", // IPv4-compatible
      "http://example.com@127.0.0.1/", // userinfo that looks like a host
      "http://user:pass@127.0.0.1:80/",
    ]) {
      expect(refused(url), url).toContain("loopback");
    }
  });

  it("refuses private, link-local, metadata, unspecified, CGNAT and other special addresses", () => {
    const cases: [string, string][] = [
      ["http://10.1.2.3/", "private"],
      ["http://172.16.0.1/", "private"],
      ["http://172.31.255.255/", "private"],
      ["http://192.168.1.1/", "private"],
      ["http://[fc00::1]/", "private"],
      ["http://[fd12:3456::1]/", "private"],
      ["http://169.254.1.1/", "link-local"],
      ["http://169.254.169.254/latest/meta-data/", "metadata"],
      ["http://[fe80::1]/", "link-local"],
      ["http://[::ffff:169.254.169.254]/", "metadata"],
      ["http://[::ffff:10.0.0.1]/", "private"],
      ["http://[::ffff:a00:1]/", "private"],
      ["http://0.0.0.0/", "unspecified"],
      ["http://0/", "unspecified"],
      ["http://[::]/", "unspecified"],
      ["http://100.64.0.1/", "carrier-grade NAT"],
      ["http://255.255.255.255/", "broadcast"],
      ["http://224.0.0.1/", "multicast"],
      ["http://192.0.2.1/", "reserved"],
      ["http://[64:ff9b::7f00:1]/", "NAT64"],
      ["http://[2002:7f00:1::]/", "6to4"],
    ];
    for (const [url, word] of cases) expect(refused(url), url).toContain(word);
    // neighbours of the ranges are public
    allowed("http://172.32.0.1/");
    allowed("http://100.128.0.1/");
    allowed("http://11.0.0.1/");
  });

  it("refuses local names", () => {
    for (const url of [
      "http://localhost/",
      "http://LOCALHOST:8787/",
      "http://localhost./",
      "http://api.localhost/",
      "http://metadata.google.internal/computeMetadata/v1/",
      "http://printer.local/",
      "http://router.home.arpa/",
      "http://metadata/",
      "http://intranet/",
      "http://127.0.0.1.nip.io/",
      "http://app-10-0-0-1.sslip.io/",
    ]) {
      refused(url);
    }
    expect(refused("http://db.internal/")).toContain(".internal");
    expect(refused("http://127.0.0.1.nip.io/")).toContain("loopback");
    allowed("http://8.8.8.8.nip.io/");
    allowed("http://localhost.example.com/");
  });

  it("refuses names that spell a refused IPv4 address anywhere, in the wildcard-DNS spellings", () => {
    const cases: [string, string][] = [
      ["http://app.127.0.0.1.nip.io/", "loopback"], // dotted, not leading
      ["http://a.b.127.0.0.1.nip.io/", "loopback"],
      ["http://7f000001.nip.io/", "loopback"], // 8 hex digits
      ["http://app-7f000001.nip.io/", "loopback"],
      ["http://0x7f000001.nip.io/", "loopback"],
      ["http://app-c0a80001.nip.io/", "private"], // 192.168.0.1
      ["http://a.10-0-0-1.sslip.io/", "private"], // dashed, not leading
      ["http://a-10-0-0-1.sslip.io/", "private"],
      ["http://10-0-0-1-app.sslip.io/", "private"], // dashed, then more
      ["http://www-192.168.1.1.sslip.io/", "private"], // mixed separators
      ["http://169-254-169-254.sslip.io/", "metadata"],
      ["http://x.0.0.0.0.nip.io/", "unspecified"],
      ["http://127.000.000.001.nip.io/", "loopback"], // zero-padded octets
    ];
    for (const [url, word] of cases) expect(refused(url), url).toContain(word);
    // spellings of public addresses, and numbers that are not four octets, are fine
    for (const url of [
      "http://8.8.8.8.nip.io/",
      "http://app-8-8-8-8.sslip.io/",
      "http://deadbeef.example.com/", // 222.173.190.239
      "http://v1-2-3.example.com/",
      "http://release-2024-01-02-03.example.com/",
      "http://1-300-0-0-1.example.com/",
      "http://7f00001.example.com/", // 7 hex digits
    ]) {
      allowed(url);
    }
  });

  it("refuses names under private-use and reserved top-level domains", () => {
    for (const [url, suffix] of [
      ["http://router.lan/", ".lan"],
      ["http://nas.home/", ".home"],
      ["http://dc01.corp/", ".corp"],
      ["http://wiki.intranet/", ".intranet"],
      ["http://git.private/", ".private"],
      ["http://api.test/", ".test"],
      ["http://x.invalid/", ".invalid"],
      ["http://www.example/", ".example"],
    ]) {
      expect(refused(url), url).toContain(`'${suffix}'`);
    }
    allowed("http://lan.example.com/");
    allowed("http://corp.example.com/");
  });

  it("refuses names that are not valid DNS names (checked by length before any scan)", () => {
    expect(refused(`http://${"a".repeat(64)}.example.com/`)).toContain("longer than 63");
    expect(refused(`http://${"abcdefghi.".repeat(26)}com/`)).toContain("longer than 253");
    expect(refused(`http://${"1-".repeat(5000)}1.example.com/`)).toContain("longer than 253");
    expect(refused("http://a..example.com/")).toContain("empty label");
    allowed(`http://${"a".repeat(63)}.example.com/`);
  });

  it("lets HTTP_TASK_ALLOW_HOSTS entries through, exactly", () => {
    allowed("http://127.0.0.1:8788/hook", TEST_ALLOW);
    allowed("http://localhost:9999/", TEST_ALLOW);
    allowed("http://LOCALHOST./", TEST_ALLOW);
    allowed("http://test.local/", TEST_ALLOW);
    allowed("http://0x7f000001/", TEST_ALLOW); // the same address, spelled differently
    refused("http://127.0.0.2/", TEST_ALLOW);
    refused("http://sub.test.local/", TEST_ALLOW);
    refused("http://api.localhost/", TEST_ALLOW);
    refused("http://[::1]/", TEST_ALLOW);
    allowed("http://[::1]/", " ::1 , 10.0.0.5");
    allowed("http://[0:0::1]/", "[::1]");
    allowed("http://10.0.0.5/", " ::1 , 10.0.0.5");
    allowed("http://metadata.google.internal/", "metadata.google.internal");
    // the scheme rule holds even for allowed hosts
    refused("ftp://localhost/", TEST_ALLOW);
    // the set form works too
    allowed("http://localhost/", parseAllowHosts(TEST_ALLOW));
  });

  it("normalises hosts", () => {
    expect(normaliseHost("[::FFFF:7F00:1]")).toBe("::ffff:7f00:1");
    expect(normaliseHost("Example.COM.")).toBe("example.com");
    expect([...parseAllowHosts(" a.com, ,[::1],127.0.0.1 ")]).toEqual(["a.com", "::1", "127.0.0.1"]);
    expect([...parseAllowHosts(undefined)]).toEqual([]);
  });
});
