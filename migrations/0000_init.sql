CREATE TABLE `events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`request_id` text,
	`user_id` text NOT NULL,
	`item_id` text NOT NULL,
	`type` text NOT NULL,
	`ts` integer NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `events_user_ts` ON `events` (`user_id`,`ts`);--> statement-breakpoint
CREATE TABLE `items` (
	`id` text PRIMARY KEY NOT NULL,
	`sid` text NOT NULL,
	`collision` integer DEFAULT 0 NOT NULL,
	`status` text DEFAULT 'active' NOT NULL,
	`attributes` text DEFAULT '{}' NOT NULL,
	`features` blob,
	`codebook_version` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `items_sid_unique` ON `items` (`sid`,`collision`);--> statement-breakpoint
CREATE INDEX `items_status` ON `items` (`status`);--> statement-breakpoint
CREATE TABLE `meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `model_versions` (
	`version` text PRIMARY KEY NOT NULL,
	`r2_key` text NOT NULL,
	`sha256` text NOT NULL,
	`codebook_version` text NOT NULL,
	`status` text DEFAULT 'candidate' NOT NULL,
	`reason` text,
	`manifest` text,
	`promoted_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `model_versions_one_active` ON `model_versions` (`status`) WHERE status = 'active';