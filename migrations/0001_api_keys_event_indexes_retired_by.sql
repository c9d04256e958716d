CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`secret_sha256` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`revoked_at` integer
);
--> statement-breakpoint
DROP INDEX `events_user_ts`;--> statement-breakpoint
CREATE INDEX `events_user_type_ts` ON `events` (`user_id`,`type`,`ts`);--> statement-breakpoint
CREATE INDEX `events_ts` ON `events` (`ts`);--> statement-breakpoint
ALTER TABLE `items` ADD `retired_by` text;