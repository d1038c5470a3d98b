import { agentArgs, AGENT_OPTIONS, defaultAgentConfig, formatFieldError, parseAgentArgs } from '../../core/index.js';

describe('agent options (one declaration for the CLI and the DaemonSet)', () => {
  it('has the documented DOKS defaults', () => {
    const d = defaultAgentConfig();
    expect([d.probeIntervalSeconds, d.publicInterface, d.symmetricTable, d.symmetricRulePriority]).toEqual([30, 'eth0', 135, 15135]);
    expect(d.keepAddresses).toEqual(['169.254.169.254']);
  });

  it('parses flags, then env, then defaults; flags win', () => {
    const r = parseAgentArgs(['--routes', '/r', '--probe-interval-seconds=0.5', '--node-labels', 'a=b, c=d', '--symmetric-routing=false'], {
      NODE_NAME: 'n1',
      KROUTE_PROBE_INTERVAL_SECONDS: '10',
      KROUTE_SYMMETRIC_TABLE: '200',
    });
    if (!r.ok) throw new Error(r.errors.map(formatFieldError).join('\n'));
    expect(r.value).toMatchObject({ routes: '/r', nodeName: 'n1', probeIntervalSeconds: 0.5, symmetricTable: 200, nodeLabels: ['a=b', 'c=d'], symmetricRouting: false });
  });

  it('names the flag and value when a flag is wrong', () => {
    const r = parseAgentArgs(['--probe-interval-seconds', 'soon', '--bogus', '1', '--override-fail-mode=maybe', '--keep-addresses=1.2.3.999'], {});
    expect(r.ok ? [] : r.errors.map(formatFieldError)).toEqual([
      '--bogus: "--bogus" is not a known flag',
      'argv[3]: "1" is not a flag; flags look like --name value or --name=value',
      '--probe-interval-seconds: "soon" must be a number from 0.1 to 3600',
      '--override-fail-mode: "maybe" must be one of closed, open',
      '--keep-addresses[0]: "1.2.3.999" is not an IPv4 or IPv6 address',
      '--node-name: is required (or set NODE_NAME)',
    ]);
  });

  it('round-trips: the args generated for a config parse back to that config', () => {
    const cfg = { probeIntervalSeconds: 5, symmetricTable: 136, overrideFailMode: 'open' as const, controlPlaneAddresses: ['198.51.100.10'] };
    const args = agentArgs(cfg);
    expect(args).toEqual(['--probe-interval-seconds=5', '--symmetric-table=136', '--control-plane-addresses=198.51.100.10', '--override-fail-mode=open']);
    const r = parseAgentArgs(args, { NODE_NAME: 'n' });
    expect(r.ok && r.value).toMatchObject(cfg);
  });

  it('gives every option a flag, an environment variable and a description', () => {
    for (const o of Object.values(AGENT_OPTIONS)) {
      expect(o.flag).toMatch(/^[a-z][a-z0-9-]+$/);
      expect(o.env).toMatch(/^[A-Z_]+$/);
      expect(o.description.length).toBeGreaterThan(10);
    }
  });
});
