// Secrets and test-only bindings that `wrangler types` cannot see in wrangler.toml.
interface Env {
  /** HS256 secret for bearer tokens (`wrangler secret put JWT_SECRET`; created locally by `npm run dev`). */
  JWT_SECRET: string;
  /**
   * Values of `{{secrets.NAME}}` in http tasks (`wrangler secret put TASK_SECRET_NAME`), read when
   * the task runs (src/workflows/secrets.ts). Undefined when not set.
   */
  [secret: `TASK_SECRET_${string}`]: string | undefined;
}

declare namespace Cloudflare {
  interface Env {
    JWT_SECRET: string;
    [secret: `TASK_SECRET_${string}`]: string | undefined;
    /** Migrations read by vitest.config.ts and applied by test/apply-migrations.ts. */
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
  }
}
