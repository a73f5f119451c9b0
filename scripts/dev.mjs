// `npm run dev`: make sure a local JWT secret exists, migrate the local D1, start `wrangler dev`.
// Arguments after `--` reach `wrangler dev` unchanged.
import { spawnSync, spawn } from "node:child_process";
import { ensureDevSecret } from "./dev-secret.mjs";

ensureDevSecret();
const wrangler = process.platform === "win32" ? "wrangler.cmd" : "wrangler";
const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };
const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local"], { stdio: "inherit", env });
if (migrate.status !== 0) process.exit(migrate.status ?? 1);
const child = spawn(wrangler, ["dev", ...process.argv.slice(2)], { stdio: "inherit", env });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
