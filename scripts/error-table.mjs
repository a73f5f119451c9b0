// The README's table of error codes, generated from ERROR_CODES (src/http/errors.ts) so the two
// cannot drift; test/error-codes.test.ts fails when they differ.
//   node scripts/error-table.mjs          prints the table
//   node scripts/error-table.mjs --write  puts it between the README's error-codes markers
// (Run with Node 22, e.g. through `npx node`, which reads the TypeScript list as it is.)

export const START = "<!-- error-codes:start -->";
export const END = "<!-- error-codes:end -->";
/** The table sits in a list item of "API conventions", so its lines are indented to match. */
const INDENT = "  ";

/** The markdown table of `codes` (ERROR_CODES), by status, in list order within a status. */
export function errorTable(codes) {
  const rows = Object.entries(codes)
    .map(([code, { status, when }], order) => ({ code, status, when, order }))
    .sort((a, b) => a.status - b.status || a.order - b.order)
    .map(({ code, status, when }) => `| ${status} | \`${code}\` | ${when.replaceAll("|", "\\|")} |`);
  return ["| status | code | when |", "| --- | --- | --- |", ...rows].map((line) => INDENT + line).join("\n");
}

/** The text between the markers, without the marker lines; undefined when a marker is missing. */
export function tableIn(readme) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) return undefined;
  const lines = readme.slice(start, end).split("\n");
  return lines.slice(1, -1).join("\n");
}

/** `readme` with `table` between the markers (the marker lines kept as they are). */
export function withTable(readme, table) {
  const current = tableIn(readme);
  if (current === undefined) throw new Error(`README.md has no ${START} ... ${END} markers`);
  const start = readme.indexOf(START);
  const bodyStart = readme.indexOf("\n", start) + 1;
  return `${readme.slice(0, bodyStart) + table}\n${readme.slice(bodyStart + current.length + 1)}`;
}

const invoked = globalThis.process?.argv?.[1];
if (invoked && import.meta.url.endsWith("/scripts/error-table.mjs") && invoked.endsWith("error-table.mjs")) {
  const { readFileSync, writeFileSync } = await import("node:fs");
  const { ERROR_CODES } = await import("../src/http/errors.ts");
  const table = errorTable(ERROR_CODES);
  if (process.argv.includes("--write")) {
    const path = new URL("../README.md", import.meta.url);
    writeFileSync(path, withTable(readFileSync(path, "utf8"), table));
    console.log("README.md: error-code table written");
  } else console.log(table);
}
