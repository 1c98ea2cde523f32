import { DEFAULT_MAX_IMAGE_STREAMS } from "../config/serve";
import { ServeSettings, keyValueSettingsStorage } from "../config/settings";
import type { CommandIo, RunCommand } from "../http/api/context";
import { startServer } from "../server";
import type { Command } from "commander";
import { acquireServerLock } from "../runtime/lock";
import { sdNotifier } from "../runtime/sd-notify";
import { createLogger, parseLogFormat, parseLogLevel, underJournald } from "../runtime/log";
import type { CommandModule } from "./context";
import { collect } from "./fields";

const serve: CommandModule = (parent, ctx) => {
  parent
    .command("serve")
    .description("run the boot servers (DHCP, TFTP, HTTP/iPXE) in the foreground until SIGINT/SIGTERM")
    .option("--port <port>", "HTTP port: iPXE scripts, kernels, images, overlays, /status", "9873")
    .option("--listen <address>", "address the HTTP and TFTP servers listen on", "0.0.0.0")
    .option("-i, --interface <name>", "serve DHCP on this interface (repeatable); turns DHCP on", collect)
    .option("--dhcp <mode>", "authoritative (addresses + boot), proxy (boot info next to another DHCP server) or off")
    .option("--server-ip <ip>", "this head node's address on the interface, when it has several")
    .option("--router <ip>", "default gateway handed to nodes without their own")
    .option("--dns <ip>", "DNS servers for nodes (repeatable)", collect)
    .option("--pool <start-end>", "addresses for unknown machines while discovery is on")
    .option("--relay-subnet <spec>", "a subnet behind a DHCP relay: NET/PREFIX[,router=IP][,pool=A-B] (repeatable)", (v: string, p: string[] = []) => [...p, v])
    .option("--lease-time <seconds>", "lease time for nodes (long, so big image downloads never outlive it)", "86400")
    .option("--discovery", "bind unknown machines to nodes marked --discoverable (off by default)")
    .option("--register-pattern <hostlist>", "with --discovery: register unknown machines as new nodes, e.g. n[001-999]")
    .option("--register-range <start-end>", "addresses for nodes registered by discovery")
    .option("--register-profile <names>", "profiles for nodes registered by discovery (default: default)", collect)
    .option("--ipv6-ra", "answer IPv6 router solicitations with an empty RA so iPXE does not wait ~13 s for IPv6 (default in authoritative mode)")
    .option("--no-ipv6-ra", "do not send IPv6 router advertisements")
    .option("--no-tftp", "do not run the TFTP server")
    .option("--tftp-port <port>", "TFTP port", "69")
    .option("--dhcp-port <port>", "DHCP server port (tests)", "67")
    .option("--pxe-port <port>", "ProxyDHCP port (tests)", "4011")
    .option(
      "--ipxe-dir <dir>",
      "serve these iPXE builds instead of the embedded ones (undionly.kpxe, snponly.efi, ipxe.efi; ipxe-arm64.efi for arm64 UEFI when present)",
    )
    .option(
      "--ipxe-build <name>",
      "which embedded iPXE to serve: current (iPXE 2025, the default) or debian-2019 (Debian 12's, for comparison); see assets/ipxe/SOURCES.md",
    )
    .option("--api-subnet <cidr>", "allow the API and web page only from these subnets, e.g. 10.0.0.0/24 (repeatable)", collect)
    .option("--secure-cookies", "mark the session cookie Secure (when a TLS proxy sits in front of drover)")
    .option("--poll-interval <seconds>", "how often node agents fetch their runtime overlay (If-None-Match: unchanged costs a 304)", "60")
    .option(
      "--max-image-streams <n>",
      "image downloads streaming at once in a boot storm; more wait, then get 503 + Retry-After (iPXE retries); 0 = no limit",
      String(DEFAULT_MAX_IMAGE_STREAMS),
    )
    .option(
      "--lease-sync <mode>",
      "normal: each group commit of leases survives drover being killed; " +
        "full: it is also fsync'd before the ACKs go out, so it survives a power cut (fewer leases/s: bench/README.md)",
      "normal",
    )
    .option("--insecure-runtime", "serve runtime overlays to any source port (for images whose only HTTP client is busybox wget)")
    .option("--debug", "log every DHCP decision (the same as --log-level debug)")
    .option("--log-level <level>", "debug, info, warn or error: the least severe lines written", parseLogLevel, "info")
    .option("--log-format <format>", "text (one line per event: time, level, component, message) or json (one object per line)", parseLogFormat, "text")
    .addHelpText(
      "after",
      `
DHCP never starts on a network nobody told drover to serve: it is off unless --interface or --dhcp is given.
With --dhcp but no --interface, drover uses the host's only IPv4 interface, or lists the choices.
Examples:
  drover serve                                   HTTP on :9873 and TFTP; DHCP off
  drover serve -i eth1                           authoritative DHCP on eth1 for registered nodes
  drover serve -i eth1 --dhcp proxy              next to an existing DHCP server (boot info only)
  drover serve -i eth1 --discovery --register-pattern n[001-200] --register-range 10.0.0.100-10.0.0.199
  drover serve -i eth1 --relay-subnet 10.1.0.0/24,router=10.1.0.1   nodes behind a DHCP relay
Logs go to stderr, one line per event: "TIME LEVEL component: message" (e.g. "... INFO  drover: HTTP on ...").
Under journald (JOURNAL_STREAM set) the time is left to the journal and each line starts with its syslog
priority, "<6>dhcp: ...", so journalctl -p warning shows warnings and errors only.
--log-format json writes {"time","level","component","msg",...} per line, under journald too.`,
    )
    .action(async (opts, cmd: Command) => {
      // One server per data dir, taken before the store is opened (and migrated, and backed up for it).
      const lock = acquireServerLock(ctx.dataDir);
      const notify = sdNotifier(ctx.io.env);
      try {
        const svc = ctx.services();
        const debug = !!opts.debug || opts.logLevel === "debug";
        const logger = createLogger({
          level: debug ? "debug" : opts.logLevel,
          format: opts.logFormat,
          journald: underJournald(ctx.io.env),
          out: (t) => ctx.io.err(t),
        });
        const log = logger.asLineLog("drover");
        // An install is put right at start, not at its next image write: images/ 0700, killed imports' and execs' leftovers gone.
        try {
          for (const line of svc.images.open()) log(`drover: images: ${line}`);
        } catch (e) {
          log(`drover: images: ${(e as Error).message}`);
        }
        // Flags typed on the command line win over values saved on the Settings page; defaults do not.
        const explicit = new Set(cmd.options.map((o) => o.attributeName()).filter((n) => cmd.getOptionValueSource(n) === "cli"));
        const settings = new ServeSettings({ flags: opts, explicit, dataDir: svc.dataDir, storage: keyValueSettingsStorage(svc.settingsStore), log });
        const server = await startServer(svc, settings, log, {
          debug,
          debugLog: logger.asLineLog("drover", "debug"),
          ...(opts.apiSubnet?.length ? { apiSubnets: opts.apiSubnet } : {}),
          ...(opts.secureCookies ? { secureCookies: true } : {}),
          ...(ctx.remoteRunner ? { runCommand: remoteCommands(ctx.remoteRunner({ ...svc, liveSettings: settings }), log) } : {}),
        });
        // `drover settings import` (another process) saves settings, then signals: put them into effect now.
        const onHup = () => {
          settings.reload().catch(() => {}); // reload logs a failure and shows it on the Settings page
        };
        process.on("SIGHUP", onHup);
        // systemd (Type=notify): ready once every server listens; the watchdog pings while the store answers.
        const stop = new Promise<void>((resolve) => {
          process.once("SIGINT", () => resolve());
          process.once("SIGTERM", () => resolve());
        });
        notify.ready(
          `serving: HTTP :${server.httpPort}${server.tftpPort ? `, TFTP :${server.tftpPort}` : ""}${server.dhcp ? `, DHCP on ${server.dhcp.listening.join(" ")}` : ", DHCP off"}`,
        );
        notify.watchdog(() => svc.store.sqlite.query("SELECT 1 AS ok").get() !== null);
        await stop;
        process.off("SIGHUP", onHup);
        notify.stopping("stopping");
        log("drover: stopping");
        await server.stop();
      } finally {
        notify.close();
        lock.release();
      }
    });
};

/**
 * `drover --server` clients' commands, run by this process against its own services; each is logged with
 * who ran it and its leading words only (arguments may carry secrets such as BMC passwords).
 */
function remoteCommands(run: (argv: readonly string[], io: CommandIo) => Promise<number>, log: (line: string) => void): RunCommand {
  return async (argv, io, who) => {
    const words: string[] = [];
    for (const a of argv) {
      if (a.startsWith("-") || words.length === 3) break;
      words.push(a);
    }
    const code = await run(argv, io);
    log(`drover: remote command '${words.join(" ")}' by ${who.user}${who.address ? ` from ${who.address}` : ""}: exit ${code}`);
    return code;
  };
}

export default serve;
