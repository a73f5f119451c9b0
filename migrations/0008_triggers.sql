CREATE TABLE `content_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`module_id` integer NOT NULL,
	`content_id` integer NOT NULL,
	`event` text NOT NULL,
	`depth` integer NOT NULL,
	`source_job_id` integer,
	`actor` text NOT NULL,
	`user_id` text NOT NULL,
	`item_created_at` text NOT NULL,
	`item_updated_at` text NOT NULL,
	`data` text NOT NULL,
	`previous` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`error` text,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `workflow_triggers` (
	`workflow_id` integer NOT NULL,
	`key` text NOT NULL,
	`position` integer NOT NULL,
	`module_id` integer NOT NULL,
	`event` text NOT NULL,
	`definition` text NOT NULL,
	`armed_at` text NOT NULL,
	`next_due_at` text,
	PRIMARY KEY(`workflow_id`, `key`)
);
--> statement-breakpoint
CREATE INDEX `workflow_triggers_module_event_idx` ON `workflow_triggers` (`module_id`,`event`);--> statement-breakpoint
CREATE INDEX `workflow_triggers_next_due_idx` ON `workflow_triggers` (`next_due_at`);--> statement-breakpoint
ALTER TABLE `jobs` ADD `trigger_key` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `trigger_content_id` integer;--> statement-breakpoint
ALTER TABLE `jobs` ADD `triggered_by` text;--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_trigger_key_unique` ON `jobs` (`trigger_key`);--> statement-breakpoint
CREATE INDEX `jobs_trigger_content_idx` ON `jobs` (`trigger_content_id`,`id`);--> statement-breakpoint
ALTER TABLE `workflows` ADD `triggers` text;