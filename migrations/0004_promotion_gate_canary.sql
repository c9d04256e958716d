ALTER TABLE `events` ADD `model_version` text;--> statement-breakpoint
CREATE INDEX `events_model_type_ts` ON `events` (`model_version`,`type`,`ts`);--> statement-breakpoint
ALTER TABLE `model_versions` ADD `gate` text;--> statement-breakpoint
ALTER TABLE `model_versions` ADD `canary` text;--> statement-breakpoint
CREATE UNIQUE INDEX `model_versions_one_canary` ON `model_versions` (`status`) WHERE status = 'canary';