/**
 * The narrow interfaces between the boot protocols (DHCP, TFTP, HTTP boot routes) and the rest of drover.
 * Protocol code imports these types and nothing from store/ or services/; the composition root (server.ts)
 * passes concrete implementations. Tests pass fakes.
 */

/** What drover knows about a registered node, as DHCP needs it. */
export interface NodeReservation {
  node: string;
  /** The address reserved for the node's provisioning interface. */
  ip: string;
  netmask: string;
  /** Default route (DHCP option 3). */
  gateway?: string;
  /** Host name (option 12). */
  hostname: string;
  /** Interface MTU (option 26). */
  mtu?: number;
}

/** Where a DHCP request came from. */
export interface RequestOrigin {
  /** Receiving interface on the head node. */
  iface: string;
  /** giaddr of a relay agent, when relayed. */
  relay?: string;
}

/** Boot stages recorded per node (persisted; `node status` shows them). */
export type BootStage = "dhcp" | "ipxe" | "kernel" | "image" | "system" | "runtime" | "booted" | "heartbeat" | "error";

export interface BootEvent {
  mac: string;
  stage: BootStage;
  /** The client's address as seen by the server. */
  address?: string;
  /** A short human-readable detail: the file sent, the error met. */
  detail?: string;
}

export interface DhcpBootPort {
  /**
   * The reservation for this MAC, or undefined when drover does not know it. When discovery is on this
   * may bind the MAC to a discoverable node or register a new node first ("unknown" is a normal answer,
   * not an error).
   */
  reservation(mac: string, origin: RequestOrigin): Promise<NodeReservation | undefined>;
  /** Records a boot event (never throws; failures are logged). */
  event(e: BootEvent): void;
}

/** A persisted DHCP lease. */
export interface Lease {
  mac: string;
  ip: string;
  /** Unix ms. */
  expiresAt: number;
  /** Node name when the address is a reservation; undefined for pool leases. */
  node?: string;
  hostname?: string;
}

export interface LeaseStore {
  get(mac: string): Lease | undefined;
  byIp(ip: string): Lease | undefined;
  put(lease: Lease): void;
  delete(mac: string): void;
  all(): Lease[];
}

/** A read-only file tree the TFTP and HTTP servers serve from (embedded iPXE binaries, or --ipxe-dir). */
export interface BootFiles {
  /**
   * Opens a file by a name already sanitised by the caller's protocol layer (no `..`, no NUL, relative).
   * Returns undefined when there is no such file.
   */
  open(name: string): Promise<{ size: number; data: Uint8Array } | undefined>;
  list(): Promise<string[]>;
}
