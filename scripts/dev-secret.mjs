// The local development JWT secret lives in .dev.vars (git-ignored), created on first use.
import { existsSync, readFileSync, writeFileSync, appendFileSync } from "node:fs";
import { randomBytes } from "node:crypto";

const FILE = ".dev.vars";

export function readDevSecret() {
  if (!existsSync(FILE)) return undefined;
  const line = readFileSync(FILE, "utf8")
    .split("\n")
    .find((l) => l.startsWith("JWT_SECRET="));
  return line
    ?.slice("JWT_SECRET=".length)
    .trim()
    .replace(/^"(.*)"$/, "$1");
}

export function ensureDevSecret() {
  const existing = readDevSecret();
  if (existing) return existing;
  const secret = randomBytes(32).toString("hex");
  if (existsSync(FILE)) appendFileSync(FILE, `\nJWT_SECRET=${secret}\n`);
  else writeFileSync(FILE, `# Local development only; never used in production.\nJWT_SECRET=${secret}\n`);
  console.error("Created a local development JWT secret in .dev.vars");
  return secret;
}
