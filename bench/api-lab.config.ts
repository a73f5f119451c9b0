// `npm run bench:api`: the whole request (auth, compile, D1, presenting, JSON) through the
// Worker's fetch inside workerd at 1,000 / 10,000 / 100,000 items, with requests no cached result
// can answer. Quick feedback while changing queries; `npm run bench` is the benchmark of record.
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => ({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: { bindings: { TEST_MIGRATIONS: await readD1Migrations("migrations"), JWT_SECRET: "test-secret", RATE_LIMIT: "off" } },
    }),
  ],
  test: { include: ["bench/api-lab.lab.ts"], setupFiles: ["./test/apply-migrations.ts"], testTimeout: 3_600_000 },
}));
