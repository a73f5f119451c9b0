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
          // example.com and hooks.example.com: the targets of the http tests that are about the
          // request itself (test/workflows-execute.test.ts), so they need no DNS answer.
          HTTP_TASK_ALLOW_HOSTS: "127.0.0.1,localhost,test.local,example.com,hooks.example.com",
          // http tasks resolve other names here; test/workflows-outbound-dns.test.ts answers it from a fetch stub.
          DNS_RESOLVER_URL: "https://dns.test/dns-query",
          TASK_SECRET_E2E_TOKEN: "e2e-s3cret/val ue",
        },
      },
    }),
  ],
  test: { setupFiles: ["./test/apply-migrations.ts"], testTimeout: 20_000 },
}));
