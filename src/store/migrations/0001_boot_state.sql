CREATE TABLE `boot_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`node_id` integer,
	`mac` text NOT NULL,
	`stage` text NOT NULL,
	`detail` text,
	`address` text,
	`at` integer NOT NULL,
	FOREIGN KEY (`node_id`) REFERENCES `nodes`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `boot_events_node_at` ON `boot_events` (`node_id`,`at`);--> statement-breakpoint
CREATE TABLE `boot_status` (
	`node_id` integer PRIMARY KEY NOT NULL,
	`stage` text NOT NULL,
	`detail` text,
	`address` text,
	`last_seen` integer NOT NULL,
	`stages` text NOT NULL,
	`boot_started_at` integer,
	`last_error` text,
	FOREIGN KEY (`node_id`) REFERENCES `nodes`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `leases` (
	`mac` text PRIMARY KEY NOT NULL,
	`ip` text NOT NULL,
	`expires_at` integer NOT NULL,
	`node` text,
	`hostname` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `leases_ip_unique` ON `leases` (`ip`);--> statement-breakpoint
CREATE TABLE `unknown_macs` (
	`mac` text PRIMARY KEY NOT NULL,
	`first_seen` integer NOT NULL,
	`last_seen` integer NOT NULL,
	`count` integer NOT NULL,
	`address` text,
	`detail` text,
	`ignored` integer DEFAULT false NOT NULL
);
