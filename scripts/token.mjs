// `npm run token [-- --scope "read write"] [--sub 7] [--hours 24] [--secret S]`: prints a JWT for the
// local development secret (or JWT_SECRET / --secret), all scopes and 24 h unless narrowed.
import { createHmac } from "node:crypto";
import { parseArgs } from "node:util";
import { ensureDevSecret } from "./dev-secret.mjs";

const { values } = parseArgs({
  options: {
    scope: { type: "string", default: "read write admin" },
    sub: { type: "string", default: "1" },
    hours: { type: "string", default: "24" },
    secret: { type: "string" },
  },
});
const secret = values.secret ?? process.env.JWT_SECRET ?? ensureDevSecret();
const b64 = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
const now = Math.floor(Date.now() / 1000);
const head = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub: values.sub, scope: values.scope, iat: now, exp: now + Number(values.hours) * 3600 })}`;
const signature = createHmac("sha256", secret).update(head).digest("base64url");
console.log(`${head}.${signature}`);
