// Starts `wrangler dev` on a free port with fresh state in bench/tmp, or uses BENCH_URL.
import { spawn, spawnSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

export function signToken(secret, scope = "read write admin") {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub: "1", scope, exp: now + 6 * 3600 })}`;
  return `${head}.${createHmac("sha256", secret).update(head).digest("base64url")}`;
}

/** Resolves once `url` answers its health route; throws if `child` exits first or time runs out. */
export async function waitForHealth(url, child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child?.exitCode !== null && child?.exitCode !== undefined) throw new Error(`the server exited early (${child.exitCode})`);
    try {
      const res = await fetch(`${url}/`);
      if (res.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`server at ${url} did not answer within ${timeoutMs} ms`);
}

const wranglerEnv = { ...process.env, WRANGLER_SEND_METRICS: "false" };

/** Runs a wrangler command against the bench's persisted local state. */
export function wrangler(args, stateDir) {
  const res = spawnSync("npx", ["wrangler", ...args, "--persist-to", stateDir], { env: wranglerEnv, encoding: "utf8" });
  if (res.status !== 0) throw new Error(`wrangler ${args.join(" ")} failed:\n${res.stdout}\n${res.stderr}`);
  return res.stdout;
}

/**
 * A local API server. `restart()` stops and starts it on the same state (used after seeding
 * D1 directly, which must not happen while workerd holds the database).
 */
export async function startServer() {
  if (process.env.BENCH_URL) {
    const secret = process.env.BENCH_SECRET;
    if (!secret) throw new Error("BENCH_URL needs BENCH_SECRET (the server's JWT_SECRET)");
    await waitForHealth(process.env.BENCH_URL);
    return { url: process.env.BENCH_URL, token: signToken(secret), stateDir: null, stop: async () => {}, restart: null };
  }
  const secret = randomBytes(16).toString("hex");
  const stateDir = `bench/tmp/state-${process.pid}`;
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  wrangler(["d1", "migrations", "apply", "DB", "--local"], stateDir);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child;
  const start = async () => {
    child = spawn(
      "npx",
      [
        "wrangler",
        "dev",
        "--port",
        String(port),
        "--ip",
        "127.0.0.1",
        "--persist-to",
        stateDir,
        "--var",
        `JWT_SECRET:${secret}`,
        "--var",
        "RATE_LIMIT:off",
        "--var",
        "HTTP_TASK_ALLOW_HOSTS:127.0.0.1",
        "--log-level",
        "error",
      ],
      { env: wranglerEnv, stdio: ["ignore", "ignore", "inherit"], detached: true },
    );
    await waitForHealth(url, child);
  };
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      /* already gone */
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  };
  await start();
  return {
    url,
    token: signToken(secret),
    stateDir,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
  };
}
