/**
 * Options that keep the node safe (issue 12, cases 5 and 6): route protocol numbers registered to other daemons are
 * refused with the flag and value named; health and metrics are closed by default.
 */
import { readFileSync, existsSync } from 'node:fs';
import { defaultAgentConfig, formatFieldError, parseAgentArgs, REGISTERED_ROUTE_PROTOCOLS, validateAgentConfig } from '../../core/index.js';

describe('agent options: safe by default', () => {
  it.each([['16', 'dhcp'], ['4', 'static'], ['9', 'ra'], ['18', 'keepalived'], ['11', 'zebra'], ['12', 'bird'], ['186', 'bgp'], ['192', 'eigrp']])(
    'refuses --route-protocol %s (%s), naming the flag and the value', (n, owner) => {
      const r = parseAgentArgs(['--route-protocol', n], { NODE_NAME: 'n' });
      const text = r.ok ? '' : r.errors.map(formatFieldError).join('\n');
      expect(text).toContain(`--route-protocol: "${n}"`);
      expect(text).toContain(`registered to ${owner}`);
    },
  );

  it('refuses a registered number from the environment and from construct props too', () => {
    const env = parseAgentArgs([], { NODE_NAME: 'n', KROUTE_ROUTE_PROTOCOL: '16' });
    expect(env.ok ? '' : env.errors.map(formatFieldError).join()).toContain('env KROUTE_ROUTE_PROTOCOL: "16" is the route protocol registered to dhcp');
    expect(validateAgentConfig({ routeProtocol: 12 }).map(formatFieldError)).toEqual([expect.stringContaining('agent.routeProtocol: "12" is the route protocol registered to bird')]);
  });

  it('accepts the default 145 and other unregistered numbers', () => {
    for (const n of ['145', '200', '77']) expect(parseAgentArgs(['--route-protocol', n], { NODE_NAME: 'n' }).ok).toBe(true);
  });

  it('lists every number this machine\'s /etc/iproute2/rt_protos registers', () => {
    const file = '/etc/iproute2/rt_protos';
    if (!existsSync(file)) return;
    const listed = readFileSync(file, 'utf8').split('\n').map((l) => /^\s*(\d+)\s+(\S+)/.exec(l)).flatMap((m) => (m ? [[Number(m[1]), m[2]] as const] : []));
    expect(listed.length).toBeGreaterThan(10);
    for (const [n, name] of listed) expect([n, REGISTERED_ROUTE_PROTOCOLS[n]]).toEqual([n, name]);
  });

  it('listens on loopback by default: health and metrics', () => {
    const d = defaultAgentConfig();
    expect([d.bindAddress, d.metricsBindAddress]).toEqual(['127.0.0.1', '127.0.0.1']);
    const r = parseAgentArgs(['--metrics-bind-address', 'private'], { NODE_NAME: 'n' });
    expect(r.ok && r.value.metricsBindAddress).toBe('private');
  });
});
