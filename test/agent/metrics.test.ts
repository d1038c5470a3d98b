/**
 * The agent's /metrics text as Prometheus scrapes it (prom-client's exposition of the agent's own registry):
 * standard process and Node.js names without a kroute prefix, kroute's own series under kroute_, and
 * kroute_build_info. The served endpoint itself is exercised by test/agent/e2e-observability.test.ts.
 */
import { AgentMetrics } from '../../agent/metrics.js';
import { KROUTE_VERSION, routeObject } from '../../core/index.js';
import { DEFAULT_OWNERSHIP, plan, type PlanInput } from '../../core/plan/index.js';

/** A DigitalOcean-shaped node's host facts (as in test/core/plan-safety.test.ts). */
const INPUT: Omit<PlanInput, 'routes'> = {
  node: { name: 'node-1', labels: {} },
  host: {
    defaultV4: { gateway: '203.0.113.1', dev: 'eth0' },
    connected: ['203.0.113.0/24', '10.114.0.0/20'],
    dnsServers: ['192.0.2.53'],
    controlPlaneAddresses: ['198.18.0.10'],
    keepAddresses: ['169.254.169.254'],
  },
  gatewaysDown: new Set(),
  config: { ownership: DEFAULT_OWNERSHIP, symmetricRouting: false, overrideFailMode: 'closed', probeMaxGateways: 2 },
};

describe('agent metric names', () => {
  it('uses the standard process_* and nodejs_* names, exactly once prefixed kroute_ for its own series, and exports kroute_build_info', async () => {
    const text = await new AgentMetrics().registry.metrics();
    const names = [...new Set(text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2] ?? ''))];
    expect(names).toEqual(expect.arrayContaining(['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_version_info',
      'kroute_build_info', 'kroute_routes_desired', 'kroute_routes_applied', 'kroute_gateway_up', 'kroute_reconcile_duration_seconds', 'kroute_kernel_errors_total']));
    expect(names.filter((n) => /^kroute_(process|nodejs)_|kroute_kroute_|process_process_/.test(n))).toEqual([]);
    // Every name is either kroute's own or one of the two standard families.
    expect(names.filter((n) => !/^(kroute|process|nodejs)_/.test(n))).toEqual([]);
    expect(text).toContain(`kroute_build_info{version="${KROUTE_VERSION}",nodejs_version="${process.version}"} 1`);
  });

  it('without default metrics only kroute_ series (and build info) are exported', async () => {
    const text = await new AgentMetrics(false).registry.metrics();
    expect(text).not.toMatch(/^process_/m);
    expect(text).toMatch(/^kroute_build_info\{.*\} 1$/m);
  });

  it('counts what the planner refuses and keeps on this node, per reason, and the gateways over the probe cap', async () => {
    const r = (name: string, destinations: string[], gateways: string[]) => ({ name, object: routeObject(name, { destinations, gateways }), deleting: false });
    const p = plan({
      ...INPUT,
      routes: [
        r('metadata', ['169.254.169.254/32'], ['10.114.0.3']),
        r('vpc-part', ['10.114.0.0/24'], ['10.114.0.3']),
        r('partly', ['198.18.0.10/32', '10.70.0.0/16'], ['10.114.0.4']),
        r('wide', ['192.0.2.0/24'], ['10.114.0.5']),
        r('never', ['127.0.0.0/8'], ['10.114.0.3']),
      ],
    });
    const m = new AgentMetrics(false);
    m.setRefusals(p);
    const text = await m.registry.metrics();
    const sample = (s: string) => Number(text.split('\n').find((l) => l.startsWith(`${s} `))?.slice(s.length + 1));
    expect({
      protectedAddress: sample('kroute_destinations_refused{reason="protected_address"}'),
      connectedSubnet: sample('kroute_destinations_refused{reason="connected_subnet"}'),
      protectedDestination: sample('kroute_routes_refused{reason="ProtectedDestination"}'),
      partly: sample('kroute_routes_refused{reason="PartiallyRefused"}'),
      offLink: sample('kroute_routes_refused{reason="GatewayNotOnLink"}'),
      invalid: sample('kroute_routes_refused{reason="InvalidRoute"}'),
      kept: sample('kroute_protected_addresses_kept'),
      unprobed: sample('kroute_gateways_unprobed'),
    }).toEqual({ protectedAddress: 2, connectedSubnet: 1, protectedDestination: 2, partly: 1, offLink: 0, invalid: 1, kept: 1, unprobed: 1 });
  });
});
