import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => ({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations("migrations"),
          JWT_SECRET: "test-secret",
          RATE_LIMIT: "off",
          HTTP_TASK_ALLOW_HOSTS: "127.0.0.1,localhost,test.local",
        },
      },
    }),
  ],
  test: { setupFiles: ["./test/apply-migrations.ts"], testTimeout: 20_000 },
}));
