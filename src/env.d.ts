// Secrets and test-only bindings that `wrangler types` cannot see in wrangler.toml.
interface Env {
  /** HS256 secret for bearer tokens (`wrangler secret put JWT_SECRET`; created locally by `npm run dev`). */
  JWT_SECRET: string;
}

declare namespace Cloudflare {
  interface Env {
    JWT_SECRET: string;
    /** Migrations read by vitest.config.ts and applied by test/apply-migrations.ts. */
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
  }
}
