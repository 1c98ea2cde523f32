/** drover's in-process DHCP server: what the composition root needs. See docs/dhcp.md. */
export {
  dhcpConfig,
  type DhcpConfig,
  type DhcpConfigInput,
  type DhcpInterface,
  type DhcpMode,
  type DhcpSubnet,
  type DhcpPool,
  DEFAULT_IPXE_SCRIPT_PATH,
} from "./config";
export { startDhcpServer, type DhcpServer, type DhcpStats, type DhcpLogger, type DhcpServerOptions } from "./server";
export { MemoryLeaseStore } from "./leases";
export { decode, encode, type DhcpPacket } from "./codec";
export { dump } from "./options";
