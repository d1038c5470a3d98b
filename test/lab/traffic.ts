/**
 * The verbs of a real-network test, written once: start a service in a namespace and wait until it listens, the echo
 * service (TCP and UDP answer with the address the flow came from), open flows and read what the server saw, ping,
 * `ip route get`, count flows at a gateway with nftables, and break a gateway (link cut, forwarding stopped).
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Exec, Netns } from './netns.js';
import { until } from './wait.js';

/** The default port of the echo service. */
export const ECHO_PORT = 7007;

/** Resolves once the process prints `ready` on stdout; rejects with its stderr when it exits first. */
export function ready(p: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = '';
    p.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    p.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    p.on('exit', (code) => reject(new Error(`${what} exited (${code}): ${err}`)));
  });
}

/** Starts `node -e script args...` inside `ns` and resolves once it printed `ready`. */
export async function startService(ns: Netns, what: string, script: string, args: readonly string[] = []): Promise<ChildProcess> {
  const p = ns.spawn(process.execPath, ['-e', script, ...args]);
  try {
    await ready(p, `${what} in ${ns.name}`);
  } catch (e) {
    p.kill('SIGKILL');
    throw e;
  }
  return p;
}

/** Echo service: TCP (and UDP unless `tcp-only`) answer each flow with the address it came from. */
const ECHO_SERVER = `const net = require('net'), dgram = require('dgram');
const [port, mode, ...addrs] = process.argv.slice(1); const udp = mode !== 'tcp-only';
let n = 0; const ok = () => { if (++n === addrs.length * (udp ? 2 : 1)) console.log('ready'); };
for (const a of addrs) {
  net.createServer((c) => { c.on('error', () => {}); c.end(c.remoteAddress + '\\n'); }).listen(Number(port), a, ok);
  if (!udp) continue;
  const u = dgram.createSocket(a.includes(':') ? 'udp6' : 'udp4');
  u.on('message', (m, r) => u.send(r.address + '\\n', r.port, r.address));
  u.bind(Number(port), a, ok);
}`;

/** Client: N TCP connections (each a new source port) or UDP datagrams (each a new socket), at once or one after another. */
const CLIENT = `const [proto, host, port, count, timeout, order] = process.argv.slice(1);
const net = require('net'), dgram = require('dgram');
const tcp = () => new Promise((res) => {
  const s = net.connect(Number(port), host); let d = '';
  const t = setTimeout(() => { s.destroy(); res('fail'); }, Number(timeout));
  s.on('data', (x) => (d += x)); s.on('end', () => { clearTimeout(t); res(d.trim() || 'fail'); });
  s.on('error', () => { clearTimeout(t); res('fail'); });
});
const udp = () => new Promise((res) => {
  const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const t = setTimeout(() => { s.close(); res('fail'); }, Number(timeout));
  s.on('message', (m) => { clearTimeout(t); s.close(); res(m.toString().trim()); });
  s.on('error', () => { clearTimeout(t); s.close(); res('fail'); });
  s.send('hi', Number(port), host);
});
const one = proto === 'udp' ? udp : tcp;
(async () => {
  const out = [];
  if (order === 'sequential') for (let i = 0; i < Number(count); i++) out.push(await one());
  else out.push(...(await Promise.all(Array.from({ length: Number(count) }, one))));
  console.log(JSON.stringify(out));
})();`;

/** Starts the echo service (TCP and UDP on `port`) on `addresses` inside `ns`; resolves once it listens. */
export function startEcho(ns: Netns, addresses: readonly string[], port = ECHO_PORT, opts: { readonly tcpOnly?: boolean } = {}): Promise<ChildProcess> {
  return startService(ns, 'echo service', ECHO_SERVER, [String(port), opts.tcpOnly ? 'tcp-only' : 'tcp-udp', ...addresses]);
}

/** A TCP listener in `ns` on address:port answering with the client's address (e.g. an API server stand-in on 6443). */
export function listenTcp(ns: Netns, address: string, port: number): Promise<ChildProcess> {
  return startEcho(ns, [address], port, { tcpOnly: true });
}

/** Options of {@link flows}. */
export interface FlowOptions {
  /** @default ECHO_PORT */
  readonly port?: number;
  /** Per flow. @default 2000 */
  readonly timeoutMs?: number;
  /** One flow after another instead of all at once. @default false */
  readonly sequential?: boolean;
}

/**
 * Opens `count` connections (TCP) or datagram exchanges (UDP) from `from` to host:port; returns, per flow, the
 * address the server saw the flow come from, or "fail".
 */
export async function flows(from: Netns, proto: 'tcp' | 'udp', host: string, count: number, opts: FlowOptions = {}): Promise<string[]> {
  const args = [proto, host, String(opts.port ?? ECHO_PORT), String(count), String(opts.timeoutMs ?? 2000), opts.sequential ? 'sequential' : 'parallel'];
  const r = await from.must(process.execPath, ['-e', CLIENT, ...args]);
  return JSON.parse(r.trim()) as string[];
}

/** Pings once from `ns`; the exit status (0 answered, 1 no answer, 2 error). */
export function pingOnce(ns: Netns, address: string, timeoutSeconds = 1): Promise<Exec> {
  return ns.exec('ping', ['-n', '-q', '-c', '1', '-W', String(timeoutSeconds), ...(address.includes(':') ? ['-6'] : []), address]);
}

/** `ip route get ADDR` in `ns`, as text ("... via X dev Y ..."). */
export async function routeGet(ns: Netns, address: string, extra: readonly string[] = []): Promise<string> {
  return (await ns.ip('route', 'get', address, ...extra)).trim();
}

/** Counters read from a gateway's count table. */
export interface FlowCounters {
  /** New connections forwarded from the counted interface (conntrack state new). */
  readonly flows: number;
  /** Packets forwarded from the counted interface. */
  readonly packets: number;
  /** Of those, packets whose source is the watched address (e.g. a node's public address: asymmetric replies). */
  readonly fromPublic: number;
}

/** The nftables table that counts at a gateway. */
export const COUNT_TABLE = 'kroute_count';
const STOP_TABLE = 'kroute_stop';

/** The count table: what is forwarded in from `iif`, and what of it comes from `watch`. */
export function countRuleset(iif: string, watch?: string): string {
  return `table inet ${COUNT_TABLE} {
  counter c_flows {}
  counter c_packets {}
  counter c_from_public {}
  chain forward {
    type filter hook forward priority -10; policy accept;
    iifname "${iif}" ct state new counter name "c_flows"
    iifname "${iif}" counter name "c_packets"
${watch ? `    iifname "${iif}" ip${watch.includes(':') ? '6' : ''} saddr ${watch} counter name "c_from_public"\n` : ''}  }
}
`;
}

/** Reads the count table of `ns`. */
export async function readCounters(ns: Netns): Promise<FlowCounters> {
  const out = JSON.parse(await ns.must('nft', ['-j', 'list', 'counters', 'table', 'inet', COUNT_TABLE])) as {
    nftables: { counter?: { name: string; packets: number } }[];
  };
  const get = (name: string) => out.nftables.find((x) => x.counter?.name === name)?.counter?.packets ?? 0;
  return { flows: get('c_flows'), packets: get('c_packets'), fromPublic: get('c_from_public') };
}

/** Zeroes the count table of `ns`. */
export async function resetCounters(ns: Netns): Promise<void> {
  await ns.must('nft', ['reset', 'counters', 'table', 'inet', COUNT_TABLE]);
}

/** Turns IPv4 and IPv6 forwarding on in `ns`. */
export async function enableForwarding(ns: Netns): Promise<void> {
  await ns.must('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
}

/** Stops `ns` forwarding while it still answers pings and ARP (a broken NAT box): `nft` drops, `sysctl` turns ip_forward off. */
export async function stopForwarding(ns: Netns, how: 'nft' | 'sysctl' = 'nft'): Promise<void> {
  if (how === 'sysctl') {
    await ns.must('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=0', 'net.ipv6.conf.all.forwarding=0']);
    return;
  }
  await ns.must('nft', ['-f', '-'], { input: `table inet ${STOP_TABLE} {\n  chain forward {\n    type filter hook forward priority -20; policy drop;\n  }\n}\n` });
}

/** Undoes {@link stopForwarding} (both ways). */
export async function resumeForwarding(ns: Netns): Promise<void> {
  await enableForwarding(ns);
  const tables = await ns.must('nft', ['list', 'tables']);
  if (tables.includes(STOP_TABLE)) await ns.must('nft', ['delete', 'table', 'inet', STOP_TABLE]);
}

/** Sets a link of `ns` up or down (a cut cable, as a dead Droplet looks). */
export async function setLink(ns: Netns, ifName: string, up: boolean): Promise<void> {
  await ns.ip('link', 'set', ifName, up ? 'up' : 'down');
}

/** An `ip monitor` rule line: `15135:\tfrom ...` (after `Deleted ` when removed). */
const RULE_LINE = /^(?:Deleted )?(\d+):/;

/** One route line of `ip monitor` with kroute's protocol. */
export interface MonitoredRoute {
  readonly deleted: boolean;
  readonly dst: string;
  readonly table: string;
}

/**
 * `ip monitor route rule` in `ns`, with markers (a route added and removed on eth1) to cut its output; `track` gets
 * the process so that the lab kills it.
 */
export function routeMonitor(ns: Netns, track: (p: ChildProcess) => unknown, protocol = 145) {
  const p = ns.spawn('ip', ['monitor', 'route', 'rule']);
  track(p);
  const lines: string[] = [];
  createInterface({ input: p.stdout as NodeJS.ReadableStream }).on('line', (l) => lines.push(l));
  let n = 0;
  const top = (from: number, to: number) => lines.slice(from, to).filter((l) => !/^\s/.test(l) && new RegExp(`\\bproto(col)? ${protocol}\\b`).test(l));
  return {
    lines,
    /** Adds and removes a marker route and waits until the monitor printed it: every earlier event is in `lines`. */
    async mark(): Promise<number> {
      const bare = `192.0.2.${200 + (n++ % 50)}`;
      const from = lines.length;
      await ns.ip('route', 'add', `${bare}/32`, 'dev', 'eth1');
      await ns.ip('route', 'del', `${bare}/32`, 'dev', 'eth1');
      await until(`monitor marker ${bare}`, 5_000, async () => (lines.slice(from).some((l) => l.startsWith('Deleted ') && l.includes(bare)) ? true : undefined));
      return lines.length;
    },
    /** Routes with kroute's protocol between two marks (top-level lines: one per route, ECMP next hops folded). */
    owned(from: number, to = lines.length): MonitoredRoute[] {
      return top(from, to).filter((l) => !RULE_LINE.test(l)).map((l) => {
        const deleted = l.startsWith('Deleted ');
        const words = (deleted ? l.slice(8) : l).split(/\s+/);
        const table = /\btable (\S+)/.exec(l)?.[1] ?? 'main';
        const v6 = words[0].includes(':') || /\bvia (inet6 )?[0-9a-f]*:/.test(l);
        const dst = words[0] === 'default' ? (v6 ? '::/0' : '0.0.0.0/0') : words[0].includes('/') ? words[0] : `${words[0]}/${v6 ? 128 : 32}`;
        return { deleted, dst, table };
      });
    },
    /** Rules with kroute's protocol between two marks: `add|remove PRIORITY SRC`. */
    rules(from: number, to = lines.length): string[] {
      return top(from, to).filter((l) => RULE_LINE.test(l)).map((l) => {
        const m = RULE_LINE.exec(l);
        const src = /\bfrom (\S+)/.exec(l)?.[1] ?? 'all';
        return `${l.startsWith('Deleted ') ? 'remove' : 'add'} ${m?.[1] ?? '?'} ${src.includes('/') || src === 'all' ? src : `${src}/${src.includes(':') ? 128 : 32}`}`;
      });
    },
    /**
     * Every line between two marks except the markers themselves and the kernel's own routes (`proto kernel`: the
     * IPv6 link-local addresses of a new namespace's links finish DAD whenever they do; no agent writes those).
     */
    between(from: number, to = lines.length): string[] {
      return lines.slice(from, to).filter((l) => !/192\.0\.2\.2\d\d/.test(l) && !/\bproto kernel\b/.test(l));
    },
    stop: () => p.kill('SIGKILL'),
  };
}

/** What {@link routeMonitor} returns. */
export type RouteMonitor = ReturnType<typeof routeMonitor>;
