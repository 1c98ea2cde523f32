/**
 * Leases: an in-memory LeaseStore (tests, benchmarks, `--no-persist`), and the pool allocator that hands
 * unknown MACs a short lease when discovery is on. The SQLite LeaseStore lives in store/.
 */
import { type Lease, type LeaseStore, QUARANTINE_MAX } from "../../boot/ports";
import { formatIPv4, parseIPv4 } from "../../domain/net";
import type { DhcpPool } from "./config";

export class MemoryLeaseStore implements LeaseStore {
  private readonly byMac = new Map<string, Lease>();
  private readonly ipIndex = new Map<string, Lease>();

  get(mac: string) {
    return this.byMac.get(mac);
  }
  byIp(ip: string) {
    return this.ipIndex.get(ip);
  }
  put(lease: Lease) {
    const old = this.byMac.get(lease.mac);
    if (old && this.ipIndex.get(old.ip) === old) this.ipIndex.delete(old.ip);
    // The address moves to the new holder, as in the SQLite store.
    const other = this.ipIndex.get(lease.ip);
    if (other && other.mac !== lease.mac) this.byMac.delete(other.mac);
    const frozen = Object.freeze({ ...lease });
    this.byMac.set(lease.mac, frozen);
    this.ipIndex.set(lease.ip, frozen);
  }
  hold(lease: Lease) {
    this.put(lease);
  }
  delete(mac: string) {
    const old = this.byMac.get(mac);
    if (!old) return;
    this.byMac.delete(mac);
    if (this.ipIndex.get(old.ip) === old) this.ipIndex.delete(old.ip);
  }
  all() {
    return [...this.byMac.values()];
  }
  /** Nothing to make durable: memory only. */
  flush() {
    return Promise.resolve();
  }
  private readonly held = new Map<string, number>();
  quarantine(ip: string, _mac: string, until: number, now: number) {
    for (const [k, u] of this.held) if (u <= now) this.held.delete(k);
    this.held.delete(ip);
    this.held.set(ip, until);
    while (this.held.size > QUARANTINE_MAX) this.held.delete(this.held.keys().next().value!);
  }
  isQuarantined(ip: string, now: number) {
    return (this.held.get(ip) ?? 0) > now;
  }
}

/**
 * Picks a free pool address for a MAC. Free = no unexpired lease held by another MAC. The search starts
 * after the last address handed out, so a burst of new clients costs O(1) each instead of a rescan.
 * Synchronous on purpose: the caller checks and records the lease in the same tick, so two concurrent
 * DISCOVERs cannot be offered the same address.
 */
export class PoolAllocator {
  private readonly cursor = new Map<string, number>();

  constructor(private readonly leases: LeaseStore) {}

  allocate(mac: string, pool: DhcpPool, now: number, exclude: ReadonlySet<string> = new Set()): string | undefined {
    const start = parseIPv4(pool.start)!;
    const end = parseIPv4(pool.end)!;
    const size = end - start + 1;
    const key = `${pool.start}-${pool.end}`;
    let off = this.cursor.get(key) ?? 0;
    for (let n = 0; n < size; n++, off = (off + 1) % size) {
      const ip = formatIPv4(start + off);
      if (exclude.has(ip) || this.leases.isQuarantined(ip, now)) continue;
      const l = this.leases.byIp(ip);
      if (l && l.mac !== mac && l.expiresAt > now) continue;
      this.cursor.set(key, (off + 1) % size);
      return ip;
    }
    return undefined;
  }

  /** True when ip is in the pool and not held by another MAC. */
  isFree(mac: string, ip: string, pool: DhcpPool, now: number): boolean {
    const v = parseIPv4(ip);
    if (v === undefined || v < parseIPv4(pool.start)! || v > parseIPv4(pool.end)!) return false;
    if (this.leases.isQuarantined(ip, now)) return false;
    const l = this.leases.byIp(ip);
    return !l || l.mac === mac || l.expiresAt <= now;
  }
}

export function inPool(pool: DhcpPool, ip: string): boolean {
  const v = parseIPv4(ip);
  return v !== undefined && v >= parseIPv4(pool.start)! && v <= parseIPv4(pool.end)!;
}
