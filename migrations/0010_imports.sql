CREATE TABLE `import_rows` (
	`job_id` integer NOT NULL,
	`row` integer NOT NULL,
	`content_id` integer,
	`key` text,
	`data` text NOT NULL,
	`search` text NOT NULL,
	PRIMARY KEY(`job_id`, `row`)
);
--> statement-breakpoint
CREATE INDEX `import_rows_key_idx` ON `import_rows` (`job_id`,`key`);--> statement-breakpoint
CREATE TABLE `import_runs` (
	`job_id` integer PRIMARY KEY NOT NULL,
	`module_id` integer NOT NULL,
	`state` text NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
ALTER TABLE `jobs` ADD `import` text;