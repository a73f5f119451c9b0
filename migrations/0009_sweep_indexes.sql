CREATE INDEX `idempotency_keys_created_idx` ON `idempotency_keys` (`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_unmirrored_idx` ON `jobs` (`created_at`) WHERE version = 0;