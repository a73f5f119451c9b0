ALTER TABLE `jobs` ADD `deadline_at` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `parameters` text DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE `jobs` ADD `progress` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `error` text;--> statement-breakpoint
CREATE INDEX `jobs_deadline_idx` ON `jobs` (`status`,`deadline_at`);