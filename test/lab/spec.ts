/**
 * A test network described as data: namespaces with their addresses, routes, forwarding, NAT, counters and services;
 * bridges and the veth links between them. `buildLab()` (./lab.ts) makes it and tears it down. A namespace that
 * stands in for something that cannot run here (DigitalOcean's edge, its metadata service) says so in `standIn`.
 */

/** A long-running process in a namespace, started after the network is up and stopped by `destroy()`. */
export interface ServiceSpec {
  /** Shown in the topology and in errors. */
  readonly name: string;
  /** The echo service (TCP and UDP answer with the flow's source address) on these addresses. */
  readonly echo?: { readonly addresses: readonly string[]; readonly port?: number; readonly tcpOnly?: boolean };
  /** Or a `node -e` script that prints `ready` once it serves. */
  readonly script?: string;
  /** Arguments of `script`. */
  readonly args?: readonly string[];
}

/** One namespace. */
export interface NamespaceSpec {
  /** What the namespace is, for the printed topology. */
  readonly label?: string;
  /** Set when the namespace is a labelled stand-in for a part that cannot run here; says what it stands in for. */
  readonly standIn?: string;
  /** Bridge interfaces inside the namespace (ports are attached by `LabSpec.ports`). */
  readonly bridges?: readonly string[];
  /** Addresses per interface, `10.0.0.1/24` or `2001:db8::1/64` (IPv6 without duplicate address detection). */
  readonly addresses?: Readonly<Record<string, readonly string[]>>;
  /** `ip route add` arguments, one route a string: `default via 203.0.113.1 dev eth0`. */
  readonly routes?: readonly string[];
  /** `ip rule add` arguments, one rule a string: `priority 100 fwmark 1 table 100`. */
  readonly rules?: readonly string[];
  /** IPv4 and IPv6 forwarding on. */
  readonly forward?: boolean;
  /** Further sysctls. */
  readonly sysctls?: Readonly<Record<string, string>>;
  /** Source NAT: masquerade out of `masquerade` (an interface), or `snat` source address -> address. */
  readonly nat?: { readonly masquerade?: string; readonly snat?: Readonly<Record<string, string>>; readonly table?: string };
  /** Count forwarded flows in from `iif` (and packets from `watch`): `lab.counters(role)`. */
  readonly count?: { readonly iif: string; readonly watch?: string };
  /** An extra nftables ruleset. */
  readonly nft?: string;
  readonly services?: readonly ServiceSpec[];
}

/** A whole lab. */
export interface LabSpec {
  /** What the lab is, for the printed topology. */
  readonly name: string;
  /** Namespaces by role; the namespace is named `<prefix>-<role>`. */
  readonly namespaces: Readonly<Record<string, NamespaceSpec>>;
  /** Point-to-point veth pairs: `['node:eth0', 'inet:eth0']`. */
  readonly links?: readonly (readonly [string, string])[];
  /** Bridge ports: `{ 'vpc:br0': ['node:eth1', 'gw0:eth1'] }`; each end's peer is named after its role in the bridge's namespace. */
  readonly ports?: Readonly<Record<string, readonly string[]>>;
  /** Nameservers of a resolv.conf written into the lab's folder (`lab.resolvConf`). */
  readonly resolvConf?: readonly string[];
}

/** `role:interface` split. */
export interface End {
  readonly role: string;
  readonly ifName: string;
}

/** Parses `role:interface`, naming the field on error. */
export function parseEnd(field: string, value: string, spec: LabSpec): End {
  const m = /^([a-z0-9-]+):([A-Za-z0-9_.-]+)$/.exec(value);
  if (!m) throw new Error(`${field}: ${JSON.stringify(value)} is not role:interface`);
  const [, role, ifName] = m as unknown as [string, string, string];
  if (!(role in spec.namespaces)) throw new Error(`${field}: ${JSON.stringify(value)} names no namespace of the lab (${Object.keys(spec.namespaces).join(', ')})`);
  if (ifName.length > 15) throw new Error(`${field}: ${JSON.stringify(value)}: interface names have at most 15 characters`);
  return { role, ifName };
}

/** One veth pair to make. */
export interface Veth {
  readonly a: End;
  readonly b: End;
  /** The bridge `b` joins, when the pair is a bridge port. */
  readonly master?: string;
}

/** Every veth pair of the spec (links and bridge ports), checked: known roles, no interface made twice. */
export function vethPairs(spec: LabSpec): Veth[] {
  const out: Veth[] = [];
  const seen = new Set<string>();
  const claim = (field: string, e: End) => {
    const k = `${e.role}:${e.ifName}`;
    if (seen.has(k)) throw new Error(`${field}: interface ${k} is made twice`);
    seen.add(k);
  };
  (spec.links ?? []).forEach(([x, y], i) => {
    const a = parseEnd(`links[${i}][0]`, x, spec);
    const b = parseEnd(`links[${i}][1]`, y, spec);
    claim(`links[${i}][0]`, a);
    claim(`links[${i}][1]`, b);
    out.push({ a, b });
  });
  for (const [key, ends] of Object.entries(spec.ports ?? {})) {
    const br = parseEnd(`ports[${JSON.stringify(key)}]`, key, spec);
    if (!(spec.namespaces[br.role]?.bridges ?? []).includes(br.ifName)) throw new Error(`ports[${JSON.stringify(key)}]: ${br.role} has no bridge ${br.ifName}`);
    ends.forEach((x, i) => {
      const a = parseEnd(`ports[${JSON.stringify(key)}][${i}]`, x, spec);
      const b = { role: br.role, ifName: a.role };
      if (b.ifName.length > 15) throw new Error(`ports[${JSON.stringify(key)}][${i}]: the port name ${a.role} is longer than 15 characters`);
      claim(`ports[${JSON.stringify(key)}][${i}]`, a);
      claim(`ports[${JSON.stringify(key)}][${i}] (port)`, b);
      out.push({ a, b, master: br.ifName });
    });
  }
  return out;
}
