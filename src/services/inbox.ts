import { invalid, notFound } from "../domain/errors";
import { normalizeMac, isMac } from "../domain/net";
import type { NodeService } from "./nodes";
import type { BootStateStore, UnknownMac } from "./ports";

/**
 * The discovery inbox: unknown MACs that asked to boot, and what an admin does with them — accept one as a
 * new node, bind it to a node marked discoverable, or ignore it. Accepting removes it from the inbox.
 */
export class DiscoveryInbox {
  constructor(
    private readonly nodes: NodeService,
    private readonly state: BootStateStore,
  ) {}

  list(includeIgnored = true): UnknownMac[] {
    return this.state.unknown().filter((u) => includeIgnored || !u.ignored);
  }

  private entry(raw: string): UnknownMac {
    if (!isMac(raw)) throw invalid(`'${raw}' is not a MAC address`);
    const mac = normalizeMac(raw);
    const u = this.state.unknown().find((x) => x.mac === mac);
    if (!u) throw notFound(`${mac} is not in the discovery inbox`);
    return u;
  }

  /** Registers the MAC as a new node (network device `default`, or `device`), with optional profiles and address. */
  acceptAsNew(mac: string, name: string, opts: { profiles?: string[]; ipaddr?: string; netmask?: string; device?: string } = {}): string {
    const u = this.entry(mac);
    const dev = opts.device ?? "default";
    this.nodes.addNodes([name], {
      set: {
        ...(opts.profiles?.length ? { profiles: opts.profiles } : {}),
        networkDevices: { [dev]: { hwaddr: u.mac, ...(opts.ipaddr ? { ipaddr: opts.ipaddr } : {}), ...(opts.netmask ? { netmask: opts.netmask } : {}) } },
      },
    });
    this.state.forgetUnknown(u.mac);
    return name;
  }

  /** Binds the MAC to an existing node marked discoverable: its primary network device gets the MAC. */
  bind(mac: string, node: string): string {
    const u = this.entry(mac);
    const n = this.nodes.getNode(node);
    if (!n.conf.discoverable)
      throw invalid(`node ${node} is not discoverable; mark it with 'drover node set ${node} --discoverable', or accept the MAC as a new node`);
    const dev = n.conf.primaryNetwork ?? Object.keys(n.conf.networkDevices ?? {})[0] ?? "default";
    this.nodes.setNodes([node], { set: { networkDevices: { [dev]: { hwaddr: u.mac } } }, unset: [["discoverable"]] });
    this.state.forgetUnknown(u.mac);
    return node;
  }

  ignore(mac: string, ignored = true): void {
    this.state.ignoreUnknown(this.entry(mac).mac, ignored);
  }

  forget(mac: string): void {
    this.state.forgetUnknown(this.entry(mac).mac);
  }

  /** Nodes an unknown MAC could be bound to. */
  discoverable(): string[] {
    return this.nodes
      .listNodes([])
      .filter((n) => n.conf.discoverable)
      .map((n) => n.name);
  }
}
