/**
 * Which field a validation problem is about, so a form can show it beside that field. The problems are the
 * lines `normalizeConf`, `checkResolvedNode` and the node service write (validate.ts, services/nodes.ts);
 * test/unit/api/node-fields.test.ts provokes each of them and checks its field, so a new wording that
 * this no longer recognises fails there. Paths are conf paths: `networkDevices.default.hwaddr`, `ipmi.port`,
 * `kernel.version`. Overlay names cannot tell system from runtime: they give `overlay:NAME`.
 */
export function problemField(line: string): string | undefined {
  const s = line.replace(/^(node|profile) '[^']*'(?::| is not valid:)? /, "");
  let m: RegExpExecArray | null;
  // The schema's own checks name the path: 'ipmi.port' must be …, 'networkDevices[default].mtu' must be …
  if ((m = /^(?:unknown field )?'([A-Za-z0-9_.[\]-]+)'(?: must| contains| has an empty)|^unknown field '([^']+)'/.exec(s)))
    return (m[1] ?? m[2])!.replace(/\[([^\]]+)\]/g, ".$1");
  if ((m = /^network '([^']+)'/.exec(s))) {
    const rest = s.slice(m[0].length);
    const field = /^ ipaddr:/.test(rest)
      ? "ipaddr"
      : /^ netmask:/.test(rest) || /disagrees with netmask|but no netmask/.test(rest)
        ? "netmask"
        : /^ gateway:/.test(rest)
          ? "gateway"
          : /MAC address/.test(rest)
            ? "hwaddr"
            : /IPv6 gateway/.test(rest)
              ? "gateway6"
              : /IPv6 address/.test(rest)
                ? "ipaddr6"
                : /prefixlen6/.test(rest)
                  ? "prefixlen6"
                  : /MTU/.test(rest)
                    ? "mtu"
                    : /interface name/.test(rest)
                      ? "device"
                      : undefined;
    return field ? `networkDevices.${m[1]}.${field}` : `networkDevices.${m[1]}`;
  }
  if ((m = /^network name '([^']+)'/.exec(s))) return `networkDevices.${m[1]}`;
  if ((m = /^ipmi (ipaddr|netmask|gateway|port)\b/.exec(s))) return `ipmi.${m[1]}`;
  if (/^BMC type /.test(s)) return "ipmi.type";
  if ((m = /^(MAC|IP address) \S+ of node '[^']*' \(([^)]+)\) is already used/.exec(s))) {
    if (m[2] === "ipmi") return "ipmi.ipaddr";
    return `networkDevices.${m[2]}.${m[1] === "MAC" ? "hwaddr" : "ipaddr"}`;
  }
  if (/^profile name '|^refers to profile '|would form a cycle/.test(s)) return "profiles";
  if (/^uses image '/.test(s)) return "image";
  if ((m = /^overlay name '~?([^']+)'/.exec(s))) return `overlay:${m[1]}`;
  if (/^primary network /.test(s)) return "primaryNetwork";
  if (/^root '/.test(s)) return "root";
  if (/^init '/.test(s)) return "init";
  if (/^iPXE template '/.test(s)) return "ipxe";
  return undefined;
}
