/**
 * The agent's /metrics text as Prometheus scrapes it (prom-client's exposition of the agent's own registry):
 * standard process and Node.js names without a kroute prefix, kroute's own series under kroute_, and
 * kroute_build_info. The served endpoint itself is exercised by test/agent/e2e-observability.test.ts.
 */
import { AgentMetrics } from '../../agent/metrics.js';
import { KROUTE_VERSION } from '../../core/index.js';

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
});
