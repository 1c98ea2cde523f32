/**
 * The narrow interfaces between the boot protocols (DHCP, TFTP, HTTP boot routes) and the rest of drover.
 * Protocol code imports these types and nothing from store/ or services/; the composition root (server.ts)
 * passes concrete implementations. Tests pass fakes.
 */

/** What drover knows about a registered node, as DHCP needs it. */
export interface NodeReservation {
  node: string;
  /**
   * The address reserved for the node's provisioning interface. Absent when the node has none on this MAC:
   * ProxyDHCP still boots it (addresses come from another server); authoritative DHCP treats it as unknown.
   */
  ip?: string;
  netmask?: string;
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

/**
 * The DHCP server's leases. Reads and writes are synchronous and see every earlier write at once (the pool
 * allocator checks and records an address in the same tick, so two clients can never be offered one address).
 * Writes become durable later, in groups: `flush()` resolves once every write made before it is committed,
 * and the server sends an ACK only after that (docs/dhcp.md "Leases on disk"). A write whose commit failed
 * stays pending and goes with the next group; `flush()` rejects meanwhile.
 */
export interface LeaseStore {
  get(mac: string): Lease | undefined;
  byIp(ip: string): Lease | undefined;
  /** Records a lease; another MAC's lease on the same address goes (the address moved). */
  put(lease: Lease): void;
  /**
   * Records an OFFER's short hold on an address, like put() but in memory only: not worth a disk write.
   * After a crash the hold is gone, which is safe: the client's REQUEST is then judged against what is on
   * disk (its address is free, so it is ACKed, or another MAC took it, so it is NAKed and starts over).
   */
  hold(lease: Lease): void;
  delete(mac: string): void;
  all(): Lease[];
  /** Resolves when every write made so far is durable; rejects when committing them failed. */
  flush(): Promise<void>;
  /**
   * Keeps an address out of the pool until `until` (unix ms): its holder declined it (DHCPDECLINE: another
   * machine answers on it). Expired entries are dropped; at most QUARANTINE_MAX are kept (the oldest go).
   */
  quarantine(ip: string, mac: string, until: number, now: number): void;
  /** True while `ip` is quarantined. */
  isQuarantined(ip: string, now: number): boolean;
}

/** The most quarantined addresses kept: far more than any pool that declines, few enough to stay small. */
export const QUARANTINE_MAX = 4096;

/** A read-only file tree the TFTP and HTTP servers serve from (embedded iPXE binaries, or --ipxe-dir). */
export interface BootFiles {
  /**
   * Opens a file by a name already sanitised by the caller's protocol layer (no `..`, no NUL, relative).
   * Returns undefined when there is no such file.
   */
  open(name: string): Promise<{ size: number; data: Uint8Array } | undefined>;
  list(): Promise<string[]>;
}

/** One file of an artifact stored in parts, or `size` bytes of it from `offset`. */
export interface ArtifactPart {
  path: string;
  offset?: number;
  size: number;
}

/**
 * What a boot route streams (kernel, image archive, overlay archive): one file on disk, or several whose
 * concatenation is the artifact (an overlay archive: gzip members shared by many nodes, each stored once,
 * then the node's own member). boot/artifact.ts reads either.
 */
export type BootArtifact = {
  size: number;
  mtimeMs: number;
  /** Strong validator: changes whenever the content may have changed. */
  etag: string;
} & ({ path: string } | { parts: readonly ArtifactPart[] });

/** Why a boot file cannot be served: an HTTP status and a message the node's console will show. */
export interface BootRefusal {
  refused: true;
  status: 403 | 404 | 409 | 500 | 503;
  message: string;
}

/** `stage1`: the image's stage-1 initramfs (two-stage boot); the image itself is `image`. */
export type BootFileKind = "kernel" | "stage1" | "image" | "system" | "runtime";

/** Where the request came from and what it carried, for the HTTP boot port. */
export interface BootRequest {
  /** The client's address as the server saw it. */
  remote?: string;
  remotePort?: number;
  /** Base URL the node used to reach us (from the Host header), e.g. http://10.0.0.1:9873 */
  base: string;
  query: Record<string, string>;
  /** If-None-Match, for conditional requests. */
  ifNoneMatch?: string;
}

/**
 * What the HTTP boot routes need. Implemented in boot/service.ts over the services. Every `mac` is
 * normalized (lower case, colons) by the routes.
 */
export interface HttpBootPort {
  /** The iPXE script for a MAC (a node's, or the "unconfigured" one). */
  ipxeScript(mac: string, req: BootRequest): Promise<{ status: number; script: string }>;
  file(kind: BootFileKind, mac: string, req: BootRequest): Promise<BootArtifact | BootRefusal>;
  /** A node reports a stage itself (`booted`, `heartbeat`, `error`). */
  callback(mac: string, stage: "booted" | "heartbeat" | "error", req: BootRequest, detail?: string): Promise<boolean>;
}

export type ImageFormat = "gzip" | "zstd";

/** What the boot script needs to know about a node's built image. */
export interface ImageBootPlan {
  /** The gzip archive (one-stage, and two-stage when there is no zstd one). */
  gzip: { size: number; sha256?: string };
  zstd?: { size: number; sha256: string };
  /** The archives that have a piece index (stage 1 unpacks them piece by piece, without a pipe). */
  indexed?: ImageFormat[];
  /** Size of the unpacked tree. */
  unpacked: number;
  /** The largest compressed piece of the piece indexes (the two-stage RAM model; absent in older builds). */
  largestPiece?: number;
  /** A stage-1 initramfs exists for the kernel the node boots. */
  stage1: boolean;
}

/** The image subsystem as the boot path sees it. */
export interface ImageArtifacts {
  kernel(image: string, version?: string): Promise<BootArtifact | BootRefusal>;
  image(image: string, format?: ImageFormat): Promise<BootArtifact | BootRefusal>;
  /** The stage-1 initramfs for the kernel `version` (default kernel when absent). */
  stage1(image: string, version?: string): Promise<BootArtifact | BootRefusal>;
  /** The piece index of an archive (`ARCHIVE.pieces`, src/image/build.ts), for stage 1; absent in fakes. */
  pieces?(image: string, format: ImageFormat): Promise<BootArtifact | BootRefusal>;
  /** Sizes, digests and stage 1 of a built image; undefined when it is not built. */
  plan(image: string, version?: string): ImageBootPlan | undefined;
}

/** The overlay subsystem as the boot path sees it: a node's rendered archive, current with its inputs. */
export interface OverlayArtifacts {
  archive(kind: "system" | "runtime", node: string): Promise<BootArtifact | BootRefusal>;
}
