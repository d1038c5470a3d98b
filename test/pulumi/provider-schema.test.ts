/**
 * The multi-language component provider from the packed kroute-pulumi package, installed in a DigitalOcean user's
 * project, started by Pulumi's own plugin runner as the engine starts a `runtime: nodejs` plugin
 * (`node node_modules/@pulumi/pulumi/cmd/run-plugin node_modules/kroute-pulumi/plugin`), and as an executable
 * wrapper would start it (`node .../plugin/index.js`); each asked for its schema over gRPC (GetSchema) with the
 * protos that ship in @pulumi/pulumi, the call `pulumi package add` makes to generate an SDK.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import providerGrpc from '@pulumi/pulumi/proto/provider_grpc_pb.js';
import providerPb from '@pulumi/pulumi/proto/provider_pb.js';
import { AGENT_OPTIONS } from '../../core/index.js';
import { PER_NODE_OPTIONS } from '../../core/face-props.js';
import { consumer, packedTarballs, PULUMI_DO_DEPS } from '../packaging/consumers.js';

interface Property {
  type?: string;
  $ref?: string;
  items?: Property;
  plain?: boolean;
  description?: string;
  additionalProperties?: Property;
}
interface Resource {
  isComponent?: boolean;
  description?: string;
  inputProperties: Record<string, Property>;
  requiredInputs?: string[];
  properties: Record<string, Property>;
}
interface Schema {
  name: string;
  resources: Record<string, Resource>;
  types: Record<string, { type: string; enum?: Array<{ name?: string; value: string }>; properties?: Record<string, Property> }>;
}

const providers: ChildProcess[] = [];
let schema: Schema;
let wrapperSchema: Schema;

function firstLine(p: ChildProcess, deadlineMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`provider printed no port within ${deadlineMs} ms: ${err}`)), deadlineMs);
    p.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    p.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl).trim());
      }
    });
    p.on('exit', (code) => reject(new Error(`provider exited (${code}): ${err}`)));
  });
}

/** Starts the provider, waits for the port it prints, asks it for its schema. */
async function schemaOf(cwd: string, args: readonly string[]): Promise<Schema> {
  const p = spawn(process.execPath, [...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  providers.push(p);
  const port = await firstLine(p, 60_000);
  expect(port).toMatch(/^[0-9]+$/);
  const client = new providerGrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const reply = await new Promise<string>((resolve, reject) =>
    client.getSchema(new providerPb.GetSchemaRequest().setVersion(0), (e, r) => (e || !r ? reject(e ?? new Error('no reply')) : resolve(r.getSchema()))),
  );
  client.close();
  return JSON.parse(reply) as Schema;
}

beforeAll(async () => {
  const t = await packedTarballs();
  const user = await consumer(
    'pulumi-do-user',
    [t['kroute-pulumi']],
    PULUMI_DO_DEPS,
    {},
  );
  const plugin = join('node_modules', 'kroute-pulumi', 'plugin');
  schema = await schemaOf(user.dir, [join('node_modules', '@pulumi', 'pulumi', 'cmd', 'run-plugin'), plugin]);
  wrapperSchema = await schemaOf(user.dir, [join(plugin, 'index.js')]);
}, 900_000);

afterAll(() => {
  for (const p of providers) p.kill('SIGTERM');
});

const COMPONENTS = ['RoutingAgent', 'Route', 'StaticEgress', 'DoksCluster', 'NatGatewayEgress', 'GatewayDropletEgress', 'EgressNodePool'];

describe('multi-language component provider (GetSchema over gRPC)', () => {
  it('starts the same provider from an executable wrapper (node plugin/index.js)', () => {
    expect(wrapperSchema).toEqual(schema);
  });

  it('serves every component under the kroute package', () => {
    expect(schema.name).toBe('kroute');
    expect(Object.keys(schema.resources).sort()).toEqual(COMPONENTS.map((c) => `kroute:index:${c}`).sort());
    for (const r of Object.values(schema.resources)) expect(r.isComponent).toBe(true);
  });

  it('types StaticEgress args for every language: Output-able gateway list, a string enum for the scope', () => {
    const se = schema.resources['kroute:index:StaticEgress'];
    expect(se?.requiredInputs).toEqual(['gateways']);
    expect(se?.inputProperties.gateways).toMatchObject({ type: 'array', items: { type: 'string' } });
    expect(se?.inputProperties.gateways?.plain).toBeUndefined();
    expect(se?.inputProperties.scope?.$ref).toBe('#/types/kroute:index:EgressScope');
    expect(schema.types['kroute:index:EgressScope']?.enum?.map((e) => e.value)).toEqual(['AllNodes', 'NodePools', 'ExceptNodePools', 'Selector']);
    expect(se?.properties.gateways).toMatchObject({ type: 'array', items: { type: 'string' } });
  });

  it('carries the TSDoc as descriptions (the analyzer drops @default tags, so defaults are also in docs/pulumi.md)', () => {
    const ra = schema.resources['kroute:index:RoutingAgent'];
    expect(ra?.inputProperties.managed?.description).toMatch(/managed routing agent/);
    expect(Object.keys(schema.resources['kroute:index:DoksCluster']?.properties ?? {}).sort()).toEqual(
      ['clusterId', 'kubeconfig', 'managedRoutingAgent', 'region', 'vpcUuid'],
    );
  });

  it('types the agent settings as the cdk8s props: one property per DaemonSet-safe agent option', () => {
    const safe = Object.keys(AGENT_OPTIONS).filter((k) => !(PER_NODE_OPTIONS as readonly string[]).includes(k));
    expect(Object.keys(schema.types['kroute:index:AgentSettings']?.properties ?? {}).sort()).toEqual(safe.sort());
  });

  it('exposes the DigitalOcean strategies\' gateway and egress IPs as outputs', () => {
    for (const c of ['NatGatewayEgress', 'GatewayDropletEgress']) {
      const r = schema.resources[`kroute:index:${c}`];
      expect(r?.properties.gatewayIps).toMatchObject({ type: 'array', items: { type: 'string' } });
      expect(r?.properties.egressIps).toMatchObject({ type: 'array', items: { type: 'string' } });
    }
    expect(schema.resources['kroute:index:GatewayDropletEgress']?.requiredInputs?.sort()).toEqual(['region', 'vpcIpRange', 'vpcUuid']);
  });
});
