CREATE TABLE `task_effects` (
	`key` text PRIMARY KEY NOT NULL,
	`content_id` integer NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `task_effects_created` ON `task_effects` (`created_at`);