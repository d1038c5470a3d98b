/**
 * Pulumi runtime mocks for the component tests. Pulumi's engine cannot run here (docs/pulumi.md), and the
 * DigitalOcean API is not reachable: `FakeCloud` stands in for both, labelled as a fake. It records every resource
 * the components register and answers with plausible outputs (Droplet private IPs, Reserved IPs, the NAT gateway's
 * gateway IP), so that the graph, the inputs and the outputs can be checked.
 */
import * as pulumi from '@pulumi/pulumi';

/** One resource as the components registered it. */
export interface Registered {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  readonly provider?: string;
  readonly custom: boolean;
}

/** FAKE DigitalOcean and Kubernetes APIs: records registrations and invents outputs. Not DigitalOcean's behaviour. */
export class FakeCloud implements pulumi.runtime.Mocks {
  readonly resources: Registered[] = [];
  private counter = 0;

  newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
    const inputs = args.inputs as Record<string, unknown>;
    this.resources.push({ type: args.type, name: args.name, inputs, custom: args.custom ?? false, ...(args.provider ? { provider: args.provider } : {}) });
    const n = ++this.counter;
    const state: Record<string, unknown> = { ...inputs };
    switch (args.type) {
      case 'digitalocean:index/droplet:Droplet':
        Object.assign(state, { ipv4AddressPrivate: `10.10.0.${100 + n}`, ipv4Address: `198.51.100.${n}` });
        return { id: String(4000 + n), state };
      case 'digitalocean:index/reservedIp:ReservedIp':
        Object.assign(state, { ipAddress: `203.0.113.${n}` });
        return { id: `203.0.113.${n}`, state };
      case 'digitalocean:index/vpcNatGateway:VpcNatGateway': {
        const vpcs = (inputs.vpcs as Array<Record<string, unknown>>).map((v) => ({ ...v, gatewayIp: '10.10.0.2' }));
        const egresses = inputs.egresses ?? [{ publicGateways: [{ ipv4: '203.0.113.200' }] }];
        Object.assign(state, { vpcs, egresses });
        return { id: `nat-${n}`, state };
      }
      case 'digitalocean:index/kubernetesCluster:KubernetesCluster':
        Object.assign(state, { kubeConfigs: [{ rawConfig: 'apiVersion: v1\nkind: Config\n# fake kubeconfig\n' }] });
        return { id: `cluster-${n}`, state };
      default:
        return { id: args.custom ? `${args.name}-id` : '', state };
    }
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    return args.inputs as Record<string, unknown>;
  }

  /** Forgets what was recorded (between tests). */
  reset(): void {
    this.resources.splice(0);
  }

  /** The resource registered under `name`; throws when there is none. */
  get(name: string): Registered {
    const r = this.resources.find((x) => x.name === name);
    if (!r) throw new Error(`no resource named ${name}; registered: ${this.resources.map((x) => x.name).join(', ')}`);
    return r;
  }

  /** Waits until no new resource has been registered for a while of event-loop turns (a condition, with a deadline). */
  async settle(deadlineMs = 10_000): Promise<void> {
    const end = Date.now() + deadlineMs;
    let seen = -1;
    let quiet = 0;
    while (quiet < 200) {
      if (Date.now() > end) throw new Error('resources kept being registered past the deadline');
      await new Promise<void>((resolve) => setImmediate(resolve));
      quiet = this.resources.length === seen ? quiet + 1 : 0;
      seen = this.resources.length;
    }
  }
}

/** The URNs the mock monitor holds, which encode each resource's parent type chain. */
export function registeredUrns(): string[] {
  const monitor = pulumi.runtime.getMonitor() as unknown as { getRegisteredResources(): Map<string, unknown> };
  return [...monitor.getRegisteredResources().keys()];
}

/** The URN of the resource named `name` (parent chain included). */
export function urnOf(name: string): string {
  const urn = registeredUrns().find((u) => u.endsWith(`::${name}`));
  if (!urn) throw new Error(`no URN for ${name}`);
  return urn;
}

/** The value of an Output; rejects when the Output failed (e.g. a check inside apply()). */
export function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  // Output's promise() is internal to the SDK but is how the SDK's own tests read outputs.
  return (o as unknown as { promise(): Promise<T> }).promise();
}
