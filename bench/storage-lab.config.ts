// `npm run bench:storage`: the storage-layout measurements of docs/storage-alternatives.md, run
// inside workerd like the suite (same wrangler.toml and migrations) but never part of `npm test`.
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => ({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: { bindings: { TEST_MIGRATIONS: await readD1Migrations("migrations"), JWT_SECRET: "test-secret", RATE_LIMIT: "off" } },
    }),
  ],
  test: { include: ["bench/storage-lab.lab.ts"], setupFiles: ["./test/apply-migrations.ts"], testTimeout: 3_600_000 },
}));
