/**
 * Every manifest the cdk8s example synthesizes passes a server-side dry-run apply on a real kube-apiserver, with
 * the Route CRD installed for real first so the Route objects are checked against its schema and CEL rules.
 * Needs Go and root; skipped locally without them, fails in CI.
 */
import { Testing } from 'cdk8s';
import { ExampleChart } from '../../examples/cdk8s/main.js';
import { describeWithApiServer, dryRunApply, useApiServerLab } from './harness.js';

const d = describeWithApiServer;

interface Obj {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
}

const manifests = Testing.synth(new ExampleChart(Testing.app(), 'kroute')) as Obj[];

d('the cdk8s example against a real API server (needs Go and root)', () => {
  const lab = useApiServerLab({ crd: true });

  it('synthesizes the agent, Routes and the StaticEgress', () => {
    const kinds = new Set(manifests.map((m) => m.kind));
    for (const k of ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'DaemonSet', 'Route']) expect(kinds).toContain(k);
  });

  it.each(manifests.map((m) => [`${m.kind} ${m.metadata.namespace ? `${m.metadata.namespace}/` : ''}${m.metadata.name}`, m] as const))(
    'accepts %s (server-side dry-run apply)',
    async (_name, obj) => {
      const r = await dryRunApply(lab.cp, [obj]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/serverside-applied \(server dry run\)/);
    },
  );

  it('accepts the whole example in one apply once the CRD is Established (as the second file of npm run synth is applied)', async () => {
    if (!lab) throw new Error('the control plane did not start');
    const r = await dryRunApply(lab.cp, manifests);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(manifests.length);
  });
});
