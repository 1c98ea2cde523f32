CREATE TABLE `dhcp_quarantine` (
	`ip` text PRIMARY KEY NOT NULL,
	`mac` text NOT NULL,
	`until` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `login_failures` (
	`key` text PRIMARY KEY NOT NULL,
	`count` integer NOT NULL,
	`until` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `users` ADD `role` text DEFAULT 'admin' NOT NULL;--> statement-breakpoint
CREATE INDEX `unknown_macs_last_seen` ON `unknown_macs` (`last_seen`);