import { z } from "zod";
import type { SettingsView } from "../../config/settings";
import type { ApiDeps } from "./context";
import type { ApiRouter } from "./router";

/** null removes the saved value (the flag's default applies again); an empty text or list does the same. */
const text = z.string().max(256).nullable().optional();
const list = z.array(z.string().max(256)).max(64).nullable().optional();
const int = z.number().int().nullable().optional();
const bool = z.boolean().nullable().optional();

const patchBody = z
  .object({
    dhcpMode: z.enum(["authoritative", "proxy", "off"]).nullable().optional(),
    interfaces: list,
    serverIp: text,
    router: text,
    dns: list,
    pool: text.describe("START-END, e.g. 10.0.0.100-10.0.0.199"),
    relaySubnets: list.describe("NET/PREFIX[,router=IP][,pool=A-B] each"),
    leaseSeconds: int,
    ipv6Ra: bool,
    discovery: bool,
    registerPattern: text,
    registerRange: text,
    registerProfiles: list,
    pollSeconds: int,
  })
  .strict();

/**
 * `drover serve`'s settings: GET shows the running configuration and, per field, whether it can change here,
 * is fixed by a command-line flag, or needs a restart; PATCH changes the live fields and puts them into effect
 * at once (DHCP and RA restart on the new interfaces, discovery and the agents' interval update).
 */
export function settingsRoutes(r: ApiRouter, deps: ApiDeps) {
  const answer = (v: SettingsView) => ({
    ...v.running,
    dataDir: v.dataDir,
    api: { allowedSubnets: deps.allowedSubnets ?? [], secureCookies: !!deps.secureCookies },
    fields: v.fields,
    interfaces: v.interfaces,
    ...(v.changed ? { changed: v.changed } : {}),
    ...(v.warning ? { warning: v.warning } : {}),
  });
  r.add(
    {
      method: "get",
      path: "/settings",
      tag: "settings",
      summary:
        "the running server's configuration, each field with its source and whether it can change live, is fixed by a flag, or needs a restart; the host's IPv4 interfaces",
    },
    (c) => c.json(answer(deps.settings.get())),
  );
  r.add(
    {
      method: "patch",
      path: "/settings",
      tag: "settings",
      summary:
        "change live settings (DHCP mode, interfaces, pools, discovery, poll interval …); validated whole, put into effect at once and saved in the " +
        "data dir; fields fixed by a command-line flag are refused (409)",
      body: patchBody,
      returns: "the settings after the change (as GET)",
    },
    async (c, { body }) => c.json(answer(await deps.settings.update(body, c.get("user")))),
  );
}
