/**
 * The agent's options, declared once. The agent's command-line parser and the DaemonSet's args are both derived
 * from this table, so the manifests and the agent cannot drift apart.
 */
import { fieldError, type FieldError, type Result } from './errors.js';
import { parseIp } from './ip.js';

type Kind = 'string' | 'integer' | 'number' | 'boolean' | 'list' | 'enum';

interface OptionBase<K extends Kind, V> {
  readonly kind: K;
  /** Long flag without dashes. */
  readonly flag: string;
  /** Environment variable read when the flag is absent. */
  readonly env: string;
  readonly default: V;
  readonly description: string;
}
interface IntOption extends OptionBase<'integer', number> {
  readonly min: number;
  readonly max: number;
  /** Values in range that are still refused, with whose they are. */
  readonly reserved?: Readonly<Record<number, string>>;
}

/**
 * Route protocol numbers registered to the kernel and to routing daemons (linux/rtnetlink.h RTPROT_*,
 * /etc/iproute2/rt_protos). kroute owns every route with its number and prunes the ones it did not plan, so sharing
 * one with a daemon (dhcp's 16, say) would delete that daemon's routes, the node's DHCP default route among them.
 */
export const REGISTERED_ROUTE_PROTOCOLS: Readonly<Record<number, string>> = {
  0: 'unspec', 1: 'redirect', 2: 'kernel', 3: 'boot', 4: 'static', 8: 'gated', 9: 'ra', 10: 'mrt', 11: 'zebra', 12: 'bird',
  13: 'dnrouted', 14: 'xorp', 15: 'ntk', 16: 'dhcp', 17: 'mrouted', 18: 'keepalived', 42: 'babel', 99: 'openr',
  186: 'bgp', 187: 'isis', 188: 'ospf', 189: 'rip', 192: 'eigrp',
};
interface NumOption extends OptionBase<'number', number> {
  readonly min: number;
  readonly max: number;
}
interface EnumOption<E extends string> extends OptionBase<'enum', E> {
  readonly values: readonly E[];
}
interface ListOption extends OptionBase<'list', readonly string[]> {
  /** Each item must be an IP address. */
  readonly ips?: boolean;
}

/** What to do when every gateway of a default-route override is down. */
export type OverrideFailMode = 'closed' | 'open';
/** Log verbosity. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
/** Where a node reports its Routes (docs/status.md). */
export type StatusReports = 'route' | 'node';

const str = (flag: string, def: string, description: string, env?: string): OptionBase<'string', string> => ({
  kind: 'string', flag, env: env ?? envName(flag), default: def, description,
});
const int = (flag: string, def: number, min: number, max: number, description: string): IntOption => ({
  kind: 'integer', flag, env: envName(flag), default: def, min, max, description,
});
const num = (flag: string, def: number, min: number, max: number, description: string): NumOption => ({
  kind: 'number', flag, env: envName(flag), default: def, min, max, description,
});
const bool = (flag: string, def: boolean, description: string): OptionBase<'boolean', boolean> => ({
  kind: 'boolean', flag, env: envName(flag), default: def, description,
});
const list = (flag: string, def: readonly string[], description: string, ips = false): ListOption => ({
  kind: 'list', flag, env: envName(flag), default: def, description, ips,
});
function envName(flag: string): string {
  return 'KROUTE_' + flag.toUpperCase().replace(/-/g, '_');
}

/** Every option of the agent. */
export const AGENT_OPTIONS = {
  routes: str('routes', '', 'Read Routes from this YAML file or folder instead of the Kubernetes API (debugging, tests).'),
  nodeName: str('node-name', '', 'Name of this node (the DaemonSet sets NODE_NAME from the downward API).', 'NODE_NAME'),
  nodeLabels: list('node-labels', [], 'Labels of this node as k=v, for --routes mode (with the API, the Node object is read).'),
  kubeconfig: str('kubeconfig', '', 'Kubeconfig file; empty means in-cluster configuration.', 'KUBECONFIG'),
  probeIntervalSeconds: num('probe-interval-seconds', 30, 0.1, 3600, 'Seconds between ICMP probes of each gateway (DOKS: 30).'),
  probeTimeoutSeconds: num('probe-timeout-seconds', 1, 0.1, 60, 'Seconds to wait for one probe reply.'),
  probeFallCount: int('probe-fall-count', 3, 1, 100, 'Consecutive failed probes that take a gateway out of rotation.'),
  probeRiseCount: int('probe-rise-count', 1, 1, 100, 'Consecutive answered probes that put a gateway back (DOKS: 1).'),
  probeMaxGateways: int('probe-max-gateways', 64, 1, 1024, 'Most gateways probed on one node (sorted by address); the rest are assumed up, and the node says so.'),
  forwardProbeTarget: str('forward-probe-target', '', 'Address probed through each gateway to check it forwards; empty disables.'),
  forwardProber: str('forward-prober', '/usr/local/bin/kroute-probe', "The forwarding prober: kroute-probe (agent/probe), one process for every forwarding probe; the image's path by default."),
  publicInterface: str('public-interface', 'eth0', 'Interface that carries the node public address (DigitalOcean: eth0).'),
  symmetricRouting: bool('symmetric-routing', true, 'Install the table and rule that make replies to traffic that came in on the public interface leave by it.'),
  symmetricTable: int('symmetric-table', 135, 1, 0xfffffffe, 'Routing table for symmetric routing (DOKS: 135, eth0table).'),
  symmetricRulePriority: int('symmetric-rule-priority', 15135, 1, 32765, 'Priority of the symmetric-routing ip rule (DOKS: 15135).'),
  routeProtocol: { ...int('route-protocol', 145, 4, 255, 'rtm_protocol number that marks the routes kroute owns; numbers registered to other daemons are refused.'), reserved: REGISTERED_ROUTE_PROTOCOLS },
  controlPlaneAddresses: list('control-plane-addresses', [], 'API server addresses kept on the original gateway during an override; empty: discovered.', true),
  keepAddresses: list('keep-addresses', ['169.254.169.254'], 'Other addresses kept on the original gateway during an override (metadata service).', true),
  resolvConf: str('resolv-conf', '/etc/resolv.conf', 'resolv.conf whose nameservers are kept on the original gateway during an override.'),
  overrideFailMode: {
    kind: 'enum', flag: 'override-fail-mode', env: envName('override-fail-mode'), default: 'closed', values: ['closed', 'open'],
    description: 'When every gateway of a default-route override is down: closed keeps the override (traffic drops), open falls back to the node gateway.',
  } as EnumOption<OverrideFailMode>,
  overrideConfirmSeconds: num('override-confirm-seconds', 30, 1, 3600, 'After applying a default-route override, roll it back unless the API server answers within this time.'),
  resyncSeconds: num('resync-seconds', 60, 1, 86400, 'Seconds between full resyncs of the kernel state (a backstop to netlink events).'),
  sysctlRoot: str('sysctl-root', '/proc/sys', 'Where the writable /proc/sys is (the DaemonSet mounts the host one at /host/proc/sys).'),
  healthPort: int('health-port', 9181, 0, 65535, 'Port of /healthz and /readyz (0 disables).'),
  metricsPort: int('metrics-port', 9180, 0, 65535, 'Port of /metrics (0 disables).'),
  bindAddress: str('bind-address', '127.0.0.1', 'Address /healthz and /readyz listen on. Loopback: under hostNetwork the kubelet probes 127.0.0.1, and nothing off the node can reach them.'),
  metricsBindAddress: str('metrics-bind-address', '127.0.0.1', 'Address /metrics listens on: an IP, or "private" for the node\'s first private (RFC 1918 / ULA) address so a Prometheus in the VPC can scrape it; never 0.0.0.0 by default (the public IP would answer).'),
  logLevel: {
    kind: 'enum', flag: 'log-level', env: envName('log-level'), default: 'info', values: ['debug', 'info', 'warn', 'error'],
    description: 'Log verbosity; logs are JSON lines on stderr.',
  } as EnumOption<LogLevel>,
  dryRun: bool('dry-run', false, 'Plan and log the changes each pass would make; write nothing (kernel, sysctls, API server).'),
  statusReports: {
    kind: 'enum', flag: 'status-reports', env: envName('status-reports'), default: 'route', values: ['route', 'node'],
    description: "Where the node reports: node writes its own RouteReport and heartbeat Lease for kroute's controller (docs/status.md); route (deprecated: the older design, N² watch events per rollout; kept for clusters without kroute's controller) writes its entry and finalizer into each Route. The DaemonSet passes node.",
  } as EnumOption<StatusReports>,
  leaseNamespace: str('lease-namespace', 'kube-system', 'Namespace of the heartbeat Lease kroute-node-<node> (the agent\'s own; with --status-reports=node).'),
} as const;

/** Names of the agent's options. */
export type AgentOptionName = keyof typeof AGENT_OPTIONS;

/** The agent's configuration: one typed field per option. */
export type AgentConfig = {
  -readonly [K in AgentOptionName]: (typeof AGENT_OPTIONS)[K]['default'] extends readonly string[]
    ? string[]
    : (typeof AGENT_OPTIONS)[K] extends EnumOption<infer E>
      ? E
      : (typeof AGENT_OPTIONS)[K]['default'];
};

/** The defaults of every option. */
export function defaultAgentConfig(): AgentConfig {
  const out: Record<string, unknown> = {};
  for (const [k, o] of Object.entries(AGENT_OPTIONS)) out[k] = Array.isArray(o.default) ? [...o.default] : o.default;
  return out as AgentConfig;
}

function parseValue(name: string, o: (typeof AGENT_OPTIONS)[AgentOptionName], raw: string, where: string, errs: FieldError[]): unknown {
  switch (o.kind) {
    case 'string':
      return raw;
    case 'boolean':
      if (raw === 'true' || raw === '') return true;
      if (raw === 'false') return false;
      errs.push(fieldError(where, 'Invalid', 'must be true or false', raw));
      return undefined;
    case 'integer':
    case 'number': {
      const n = Number(raw);
      const okShape = raw.trim() !== '' && Number.isFinite(n) && (o.kind === 'number' || Number.isInteger(n));
      if (!okShape || n < o.min || n > o.max) {
        errs.push(fieldError(where, 'Invalid', `must be ${o.kind === 'integer' ? 'an integer' : 'a number'} from ${o.min} to ${o.max}`, raw));
        return undefined;
      }
      const owner = o.kind === 'integer' ? o.reserved?.[n] : undefined;
      if (owner !== undefined) {
        errs.push(fieldError(where, 'Invalid', `is the route protocol registered to ${owner} (/etc/iproute2/rt_protos): kroute would take that daemon's routes for its own and prune them; use an unregistered number such as ${o.default}`, raw));
        return undefined;
      }
      return n;
    }
    case 'list': {
      const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
      if (o.ips) {
        items.forEach((s, i) => {
          const p = parseIp(s);
          if (!p.ok) errs.push(fieldError(`${where}[${i}]`, 'Invalid', p.reason, s));
        });
      }
      return items;
    }
    case 'enum':
      if (!(o.values as readonly string[]).includes(raw)) {
        errs.push(fieldError(where, 'NotSupported', `must be one of ${o.values.join(', ')}`, raw));
        return undefined;
      }
      return raw;
    default:
      errs.push(fieldError(where, 'Invalid', `unknown option kind for ${name}`));
      return undefined;
  }
}

/** Parses `--flag value`, `--flag=value` and KROUTE_* environment variables into a config; flags win. */
export function parseAgentArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Result<AgentConfig> {
  const errs: FieldError[] = [];
  const byFlag = new Map<string, AgentOptionName>();
  for (const [k, o] of Object.entries(AGENT_OPTIONS)) byFlag.set(o.flag, k as AgentOptionName);
  const raw = new Map<AgentOptionName, { value: string; where: string }>();
  for (const [k, o] of Object.entries(AGENT_OPTIONS)) {
    const v = env[o.env];
    if (v !== undefined) raw.set(k as AgentOptionName, { value: v, where: `env ${o.env}` });
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      errs.push(fieldError(`argv[${i}]`, 'Invalid', 'is not a flag; flags look like --name value or --name=value', a));
      continue;
    }
    const eq = a.indexOf('=');
    const flag = a.slice(2, eq < 0 ? undefined : eq);
    const name = byFlag.get(flag);
    if (!name) {
      errs.push(fieldError(`--${flag}`, 'NotSupported', 'is not a known flag', a));
      continue;
    }
    let value: string;
    if (eq >= 0) value = a.slice(eq + 1);
    else if (AGENT_OPTIONS[name].kind === 'boolean' && (i + 1 >= argv.length || argv[i + 1].startsWith('--'))) value = 'true';
    else if (i + 1 < argv.length) value = argv[++i];
    else {
      errs.push(fieldError(`--${flag}`, 'Required', 'needs a value'));
      continue;
    }
    raw.set(name, { value, where: `--${flag}` });
  }
  const cfg = defaultAgentConfig() as Record<string, unknown>;
  for (const [name, { value, where }] of raw) {
    const v = parseValue(name, AGENT_OPTIONS[name], value, where, errs);
    if (v !== undefined) cfg[name] = v;
  }
  if (cfg.nodeName === '') errs.push(fieldError('--node-name', 'Required', 'is required (or set NODE_NAME)'));
  return errs.length ? { ok: false, errors: errs } : { ok: true, value: cfg as AgentConfig };
}

/** The command-line arguments that set `config`'s non-default values, in declaration order. */
export function agentArgs(config: Partial<AgentConfig>): string[] {
  const out: string[] = [];
  for (const [k, o] of Object.entries(AGENT_OPTIONS)) {
    const v = (config as Record<string, unknown>)[k];
    if (v === undefined) continue;
    const same = Array.isArray(v) ? JSON.stringify(v) === JSON.stringify(o.default) : v === o.default;
    if (same) continue;
    out.push(`--${o.flag}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  }
  return out;
}

/** Checks a partial config as construct props would give it (ranges, enums, addresses). */
export function validateAgentConfig(config: Partial<AgentConfig>, path = 'agent'): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(config)) {
    const o = (AGENT_OPTIONS as Record<string, (typeof AGENT_OPTIONS)[AgentOptionName]>)[k];
    if (!o) {
      errs.push(fieldError(`${path}.${k}`, 'NotSupported', 'is not an agent option'));
      continue;
    }
    if (v === undefined) continue;
    const text = Array.isArray(v) ? v.join(',') : String(v);
    const before = errs.length;
    parseValue(k, o, text, `${path}.${k}`, errs);
    if (errs.length === before && o.kind !== 'list' && typeof v !== typeof o.default) {
      errs.push(fieldError(`${path}.${k}`, 'Invalid', `must be a ${typeof o.default}`, v));
    }
  }
  return errs;
}
