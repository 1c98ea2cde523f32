import { userInfo } from "node:os";
import type { Services } from "../../app";
import { type HostInterface, hostInterfaces } from "../../config/serve";
import { type SavedSettings, type SettingsPatch, ServeSettings, describeChange, keyValueSettingsStorage, resolveWithFields } from "../../config/settings";
import {
  type FstabMount,
  HEADNODE_SETTINGS_KEY,
  type HeadNodeSettings,
  type ImportRow,
  parseWarewulfConf,
  planWarewulfImport,
} from "../../config/warewulf-conf";
import { DroverError, invalid } from "../../domain/errors";
import { signalServer } from "../../runtime/lock";
import type { CommandModule } from "../context";
import { emit, readUserText } from "../output";

export interface SettingsImportResult {
  file: string;
  dryRun: boolean;
  rows: ImportRow[];
  /** "field: before → after" per serve setting the import changes. */
  settings: string[];
  /** Settings the import would set that the running server's command line fixes (not changed). */
  fixed: string[];
  /** NFS mounts added to the default profile's fstab resource. */
  fstab: FstabMount[];
  headNode: HeadNodeSettings;
  /** How the settings reached drover serve. */
  applied: string;
}

/**
 * Imports a warewulf.conf: all of it or nothing. The serve settings are validated whole by the code that
 * validates drover serve's flags (resolveServeConfig) before anything is written; then the default profile's
 * NFS mounts, the serve settings (through ServeSettings, into the same saved row the Settings page edits)
 * and what `drover configure` reads are saved, in that order, the profile change undone when the settings
 * cannot be saved. Inside `drover serve` (remote use) the running server's settings take the change at once;
 * otherwise a running server on the data dir is sent SIGHUP, on which it reloads the saved settings.
 */
export async function importWarewulfSettings(
  svc: Services,
  text: string,
  file: string,
  o: { dryRun?: boolean; hosts: readonly HostInterface[]; by: string },
): Promise<SettingsImportResult> {
  const conf = parseWarewulfConf(text, file);
  const profile = svc.nodes.listProfiles().find((p) => p.name === "default");
  const ownFstab = Array.isArray(profile?.own.resources?.fstab) ? (profile!.own.resources!.fstab as Record<string, unknown>[]) : [];
  const plan = planWarewulfImport(conf, { file, hosts: o.hosts, dataDir: svc.dataDir, defaultProfileMounts: ownFstab.map((e) => String(e?.file ?? "")) });
  if (plan.fstab.length && !profile)
    throw invalid(
      `${file} asks nodes to mount ${plan.fstab.map((m) => m.file).join(", ")}, but there is no profile 'default' to add them to: 'drover profile add ` +
        `default' first; nothing was changed`,
    );
  if (profile?.own.resources?.fstab !== undefined && !Array.isArray(profile.own.resources.fstab) && plan.fstab.length)
    throw invalid("profile default's fstab resource is not a list; fix it with 'drover profile edit default' first; nothing was changed");

  // The serve settings as they would be saved, validated whole (the Settings page's own check).
  const live = svc.liveSettings;
  const fixed: string[] = [];
  const patch: SettingsPatch = { ...plan.patch };
  if (live) {
    const fields = live.get().fields;
    for (const k of Object.keys(patch) as (keyof SettingsPatch)[]) {
      const f = fields[k];
      if (f?.editable === "command line") {
        fixed.push(`${k}: ${f.reason ?? "fixed by the command line"}`);
        delete patch[k];
      }
    }
  }
  const storage = keyValueSettingsStorage(svc.settingsStore);
  const before: SavedSettings = storage.load()?.values ?? {};
  const after: SavedSettings = { ...before };
  for (const [k, v] of Object.entries(patch)) (after as Record<string, unknown>)[k] = v;
  const changes = describeChange(before, after);
  try {
    resolveWithFields(after, svc.dataDir, [...o.hosts]);
  } catch (e) {
    if (!(e instanceof DroverError)) throw e;
    const field = /^([A-Za-z]+): /.exec(e.message)?.[1];
    const from = plan.rows.filter((r) => r.fields?.includes(field as never)).map((r) => r.key);
    throw invalid(`${file}${from.length ? ` ${from.join(", ")}` : ""}: ${e.message}; nothing was changed`);
  }
  const result: SettingsImportResult = {
    file,
    dryRun: !!o.dryRun,
    rows: plan.rows,
    settings: changes,
    fixed,
    fstab: plan.fstab,
    headNode: plan.headNode,
    applied: "",
  };
  if (o.dryRun) {
    result.applied = "dry run: nothing changed";
    return result;
  }

  // 1. The default profile's NFS mounts (validated by the store's write like any profile change).
  const oldProfile = profile?.own;
  if (plan.fstab.length && oldProfile)
    svc.nodes.replaceProfiles({ default: { ...oldProfile, resources: { ...oldProfile.resources, fstab: [...ownFstab, ...plan.fstab] } } });
  const undo = () => {
    if (plan.fstab.length && oldProfile) svc.nodes.replaceProfiles({ default: oldProfile });
  };
  // 2. The serve settings, through ServeSettings: the running server's when inside it, else the saved row.
  try {
    if (live) {
      if (Object.keys(patch).length) await live.update(patch, o.by);
      result.applied = changes.length ? "put into effect by the running drover serve" : "no serve setting changed";
    } else {
      const s = new ServeSettings({ flags: {}, explicit: new Set(), dataDir: svc.dataDir, storage, hosts: () => [...o.hosts] });
      s.onApply(async () => {}); // no servers in this process; a running drover serve is signalled below
      if (changes.length) await s.update(patch, o.by);
      result.applied = "saved";
    }
  } catch (e) {
    undo();
    if (e instanceof DroverError) throw new DroverError(e.kind, `${e.message}; nothing was changed`, e.details);
    throw e;
  }
  // 3. What drover configure reads (export paths, key types): the import's values replace the last import's.
  svc.settingsStore.set(HEADNODE_SETTINGS_KEY, plan.headNode);
  if (!live && changes.length) {
    const pid = signalServer(svc.dataDir, "SIGHUP");
    result.applied = pid
      ? `saved; the drover serve running on this data dir (PID ${pid}) was told to put them into effect (SIGHUP); its log and the Settings page say if it could`
      : "saved; drover serve puts them into effect when it starts (none runs on this data dir now)";
  }
  return result;
}

function printResult(r: SettingsImportResult, out: (s: string) => void) {
  out(`${r.file}:\n`);
  for (const row of r.rows) out(`  ${row.key}${row.value !== "" ? `: ${row.value}` : ""} → ${row.outcome === "mapped" ? "" : `${row.outcome}: `}${row.text}\n`);
  out(`drover serve's settings (the Settings page):${r.settings.length ? "" : " no change"}\n`);
  for (const c of r.settings) out(`  ${c}\n`);
  for (const f of r.fixed) out(`  not changed, ${f}\n`);
  if (r.fstab.length)
    out(`profile default, fstab resource: ${r.fstab.map((m) => `+ ${m.spec} ${m.file} ${m.vfstype} ${m.mntops ?? "defaults"}`).join("; ")}\n`);
  const hn = r.headNode;
  const parts = [
    hn.nfsExports ? `NFS exports ${hn.nfsExports.length ? hn.nfsExports.map((e) => `${e.path} (${e.options})`).join(", ") : "none"}` : undefined,
    hn.sshKeyTypes ? `root's key type ${hn.sshKeyTypes[0]}` : undefined,
  ].filter(Boolean);
  if (parts.length) out(`drover configure: ${parts.join("; ")}\n`);
  out(`${r.dryRun ? "Dry run: nothing changed" : r.applied[0]!.toUpperCase() + r.applied.slice(1)}.\n`);
  if (!r.dryRun && (hn.nfsExports?.length || hn.sshKeyTypes))
    out("Next: drover configure --all --dry-run, then drover configure --all (NFS exports, root's key, /etc/hosts)\n");
}

const imp: CommandModule = (parent, ctx) => {
  parent
    .command("import")
    .description("import a Warewulf warewulf.conf: DHCP interface and range, agent interval, iPXE map, NFS export paths, SSH key types; all or nothing")
    .argument("<file>", "warewulf.conf, or - for standard input (with --server: on the machine you run drover on)")
    .option("--dry-run", "print what each key would become and change nothing")
    .option("--json", "print the report as JSON")
    .addHelpText(
      "after",
      `
Every key is reported: what it became (a setting of the Settings page, what 'drover configure' uses, the
default profile's NFS mounts), 'checked' (drover already does it), or 'not mapped' with the reason and,
for a flag of drover serve (--port, --ipxe-dir …), what to add to its command line. An unknown key, a value
drover cannot read or a setting drover serve would refuse (a range outside the interface's subnet) changes
nothing. A running drover serve on the same data dir puts the new settings into effect at once (SIGHUP).
Examples:
  drover settings import /etc/warewulf/warewulf.conf --dry-run
  drover settings import /etc/warewulf/warewulf.conf && drover configure --all`,
    )
    .action(async (file: string, opts: { dryRun?: boolean; json?: boolean }) => {
      const text = await readUserText(ctx.io, file);
      const svc = ctx.services();
      const by = `settings import (${ctx.remote ? "remote" : userInfo().username})`;
      const r = await importWarewulfSettings(svc, text, file, { dryRun: opts.dryRun, hosts: hostInterfaces(), by });
      if (opts.json) emit(ctx.io, "json", r);
      else printResult(r, (s) => ctx.io.out(s));
    });
};
export default imp;
