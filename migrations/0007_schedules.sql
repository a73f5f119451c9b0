CREATE TABLE `schedules` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`workflow_id` integer NOT NULL,
	`cron` text NOT NULL,
	`timezone` text NOT NULL,
	`parameters` text DEFAULT '{}' NOT NULL,
	`start_at` text,
	`end_at` text,
	`overlap` text NOT NULL,
	`catchup_window` integer NOT NULL,
	`paused` integer DEFAULT false NOT NULL,
	`user_id` text NOT NULL,
	`fires_after` text NOT NULL,
	`next_fire_at` text,
	`version` integer DEFAULT 1 NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `schedules_workflow_idx` ON `schedules` (`workflow_id`,`id`);--> statement-breakpoint
CREATE INDEX `schedules_next_fire_idx` ON `schedules` (`next_fire_at`);--> statement-breakpoint
ALTER TABLE `jobs` ADD `schedule_id` integer;--> statement-breakpoint
ALTER TABLE `jobs` ADD `scheduled_for` text;--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_schedule_fire_unique` ON `jobs` (`schedule_id`,`scheduled_for`);--> statement-breakpoint
CREATE INDEX `jobs_schedule_idx` ON `jobs` (`schedule_id`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_schedule_status_idx` ON `jobs` (`schedule_id`,`status`,`id`);