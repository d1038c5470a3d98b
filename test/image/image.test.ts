/**
 * The agent image, built here (podman + runc, no registry) and run in a node network namespace under the DaemonSet's
 * own security context: every podman flag is derived from the synthesized DaemonSet (run-flags.ts), none written by
 * hand. Needs root, podman and runc (`apt-get install -y --no-install-recommends podman runc`), and Go (kroute-probe):
 * a missing tool fails.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { agentDaemonSet, AGENT_CAPABILITIES, resolveAgentManifestOptions } from '../../core/agent-manifests.js';
import type { Manifest } from '../../core/manifest.js';
import { FORWARD_PROBE } from '../../core/plan/index.js';
import { routeObject } from '../../core/route.js';
import { AgentContainer } from './agent-container.js';
import { buildImage, saveArchives, type BuiltImage } from './build.js';
import { describeMissing, missingCapabilities } from './capabilities.js';
import { changedKeys, gatewaysOf, netSysctls, ruleAt, tableDefault } from './kernel-state.js';
import { GATEWAY_ADDRESSES, startNodeLab, type NodeLab } from './node-lab.js';
import { command, Podman } from './podman.js';
import { runFlagsFromDaemonSet, type DerivedRun } from './run-flags.js';

/** The node this run stands in for (the downward API's spec.nodeName) and its labels. */
const NODE_NAME = 'pool-egress-7fq2x';
const NODE_LABELS = ['doks.digitalocean.com/node-pool=egress', `kubernetes.io/hostname=${NODE_NAME}`];
const ROUTES_DIR = '/routes';
const ROUTES_FILE = `${ROUTES_DIR}/routes.yaml`;
/** Short probing so a dead gateway leaves within seconds; the rest of the options keep the DaemonSet's defaults. */
const PROBING = { probeIntervalSeconds: 0.5, probeTimeoutSeconds: 0.4, probeFallCount: 2, probeRiseCount: 1 };
const EGRESS_DST = '192.0.2.0/24';
const OTHER_POOL_DST = '198.51.100.0/24';

/** The DaemonSet exactly as kroute synthesizes it, with `--routes` and `--node-labels` standing in for the API. */
function synthesizedDaemonSet(): Manifest {
  const r = resolveAgentManifestOptions({ agent: { routes: ROUTES_FILE, nodeLabels: NODE_LABELS, ...PROBING } });
  if (!r.ok) throw new Error(`agent options: ${JSON.stringify(r.errors)}`);
  return agentDaemonSet(r.value);
}

/** The same DaemonSet after someone removed `capability` from its securityContext. */
function daemonSetWithout(capability: string): Manifest {
  type Caps = { capabilities: { add: string[] } };
  const ds = structuredClone(synthesizedDaemonSet()) as Manifest & { spec: { template: { spec: { containers: { securityContext: Caps }[] } } } };
  const sc = ds.spec.template.spec.containers[0].securityContext;
  sc.capabilities.add = sc.capabilities.add.filter((c) => c !== capability);
  return ds;
}

async function writeRoutes(dir: string): Promise<void> {
  const pool = (name: string) => ({
    nodeSelectorTerms: [{ matchExpressions: [{ key: 'doks.digitalocean.com/node-pool', operator: 'In' as const, values: [name] }] }],
  });
  const docs = [
    routeObject('egress', { destinations: [EGRESS_DST], gateways: [...GATEWAY_ADDRESSES], nodeSelector: pool('egress') }),
    routeObject('other-pool', { destinations: [OTHER_POOL_DST], gateways: [GATEWAY_ADDRESSES[0]], nodeSelector: pool('other') }),
  ];
  await writeFile(join(dir, 'routes.yaml'), docs.map((d) => stringify(d)).join('---\n'));
}

/**
 * The run flags for one node lab. hostPath /proc/sys/net is bound from this machine's /proc/sys/net unchanged, and
 * that is right: the kernel resolves every /proc/sys/net lookup in the network namespace of the process that makes
 * it, not of the mount, so the agent (inside the node namespace) reads and writes the node's sysctls through it,
 * exactly as a hostNetwork pod does the host's. The test checks it: what the agent changed, changed in the node
 * namespace, and the machine's own values did not move.
 */
function derive(ds: Manifest, lab: NodeLab, routesDir: string, image: string): DerivedRun {
  return runFlagsFromDaemonSet(ds, {
    nodeNetnsPath: lab.nodePath,
    nodeName: NODE_NAME,
    image,
    hostPath: (p) => {
      if (p === '/proc/sys/net' || p.startsWith('/proc/sys/net/')) return p;
      throw new Error(`hostPath ${p} has no stand-in in this test`);
    },
    // The Route file replaces the API server: mounted read-only, as a ConfigMap would be.
    extra: ['--volume', `${routesDir}:${ROUTES_DIR}:ro`],
  });
}

describe('agent image (needs root, podman, runc, and Go for kroute-probe)', () => {
  let built: Pick<BuiltImage, 'image' | 'sizeBytes'>;
  let podman: Podman;

  beforeAll(async () => {
    podman = await Podman.create();
    // KROUTE_AGENT_IMAGE: test an image built elsewhere (a CI docker build loaded into podman) instead of this checkout.
    const prebuilt = process.env.KROUTE_AGENT_IMAGE;
    built = prebuilt
      ? { image: prebuilt, sizeBytes: await podman.imageSize(prebuilt) }
      : await buildImage({ save: false, tag: 'localhost/kroute-agent:test' });
  }, 900_000);

  it('ships Node, ip, fping and kroute-probe without file capabilities (and no ping), runs as the DaemonSet user, and carries OCI labels', async () => {
    const inspect = JSON.parse(await podman.must(['image', 'inspect', built.image])) as {
      Config: { User?: string; Labels: Record<string, string>; Entrypoint: string[] };
    }[];
    expect(inspect[0].Config.User).toBe('0:0');
    expect(inspect[0].Config.Entrypoint).toEqual(['/usr/local/bin/node', '/app/lib/agent/main.js']);
    expect(inspect[0].Config.Labels).toMatchObject({
      'org.opencontainers.image.licenses': 'Apache-2.0',
      'org.opencontainers.image.version': expect.stringMatching(/^\d+\.\d+\.\d+/),
      'org.opencontainers.image.source': expect.stringMatching(/^https:\/\//),
    });
    const root = (await podman.must(['image', 'mount', built.image])).trim();
    try {
      // fping (gateway probes) and kroute-probe (forwarding probes): present, no file capabilities, no setuid.
      for (const tool of ['usr/bin/fping', 'usr/local/bin/kroute-probe']) {
        const path = join(root, tool);
        const caps = await command('getcap', [path]);
        expect({ tool, getcap: caps.stdout.trim(), code: caps.code }).toEqual({ tool, getcap: '', code: 0 });
        expect({ tool, setuid: ((await stat(path)).mode & 0o4000) !== 0 }).toEqual({ tool, setuid: false });
      }
      // The agent no longer runs ping (one per forwarding probe before kroute-probe): the image does not carry it.
      expect(await stat(join(root, 'bin/ping')).then(() => 'present', () => 'absent')).toBe('absent');
    } finally {
      await podman.run(['image', 'unmount', built.image]);
    }
    expect(built.sizeBytes).toBeLessThan(200 * 1024 * 1024);
  });

  it('saves an OCI archive and reports its manifest digest, which names this image (what image.digest pins)', async () => {
    const repo = await mkdtemp(join(tmpdir(), 'kroute-image-save-'));
    try {
      const saved = await saveArchives(podman, repo, built.image, 'digest-test', () => undefined);
      const digest = saved.ociArchive?.digest ?? '';
      expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/);
      expect((await readFile(join(repo, 'dist/image/kroute-agent.digest'), 'utf8')).trim()).toBe(digest);
      // The digest is the manifest's own hash, and that manifest's config is this image's (podman's image id).
      const archive = saved.ociArchive?.path ?? '';
      const manifest = (await command('tar', ['-xOf', archive, `blobs/sha256/${digest.slice(7)}`], { timeoutMs: 60_000 })).stdout;
      expect(`sha256:${createHash('sha256').update(manifest).digest('hex')}`).toBe(digest);
      const id = (await podman.must(['image', 'inspect', '--format', '{{.Id}}', built.image])).trim();
      expect((JSON.parse(manifest) as { config: { digest: string } }).config.digest).toBe(`sha256:${id}`);
    } finally {
      await rm(repo, { recursive: true, force: true });
    }
  }, 600_000);

  describe('run as the synthesized DaemonSet runs it, in a node namespace', () => {
    let lab: NodeLab;
    let routesDir: string;
    let agent: AgentContainer;
    let run: DerivedRun;
    let hostBefore: Map<string, string>;
    let nodeBefore: Map<string, string>;

    beforeAll(async () => {
      lab = await startNodeLab();
      routesDir = await mkdtemp(join(tmpdir(), 'kroute-image-routes-'));
      await writeRoutes(routesDir);
      run = derive(synthesizedDaemonSet(), lab, routesDir, built.image);
      [hostBefore, nodeBefore] = [await netSysctls(), await netSysctls(lab.node)];
      agent = AgentContainer.start(podman, run, `${lab.lab.prefix}-agent`);
    }, 120_000);

    afterAll(async () => {
      await agent?.stop();
      await lab?.built.destroy();
      if (routesDir) await rm(routesDir, { recursive: true, force: true });
    }, 60_000);

    const diagnose = async () => describeMissing(await missingCapabilities(podman, run, agent.log), run.capabilities);

    it('derives drop ALL, add NET_ADMIN and NET_RAW, a read-only root, seccomp and root from the DaemonSet', () => {
      expect(run.capabilities).toEqual([...AGENT_CAPABILITIES]);
      expect(run.options).toEqual(expect.arrayContaining(['--cap-drop', 'ALL', '--read-only', '--user', '0:0']));
      expect(run.options).toContain('seccomp=/usr/share/containers/seccomp.json');
      expect(run.options).toContain(`NODE_NAME=${NODE_NAME}`);
      expect(run.args).toEqual(expect.arrayContaining([`--routes=${ROUTES_FILE}`, `--node-labels=${NODE_LABELS.join(',')}`]));
    });

    it("runs kroute-probe under the DaemonSet's capabilities: marked echoes to a gateway from raw sockets, answered", async () => {
      const [gw1] = GATEWAY_ADDRESSES;
      const r = await podman.run([...run.options, '--entrypoint', '/usr/local/bin/kroute-probe', built.image,
        '-count', '3', '-period-ms', '300', '-timeout-ms', '300', `gw1,${gw1},${FORWARD_PROBE.markBase}`], { timeoutMs: 60_000 });
      const lines = r.stdout.trim().split('\n').map((l) => l.replace(/ [\d.]+$/, ''));
      // On a failure the diff shows kroute-probe's stderr (its reason) against nothing.
      expect({ code: r.code, lines, stderr: r.stderr.trim() }).toEqual({ code: 0, lines: ['gw1 0 reply', 'gw1 1 reply', 'gw1 2 reply'], stderr: r.code === 0 ? expect.any(String) : '' });
    }, 60_000);

    it('programs the Route selecting this node through both gateways, and not the Route of another pool', async () => {
      const hops = await agent.waitFor(
        `${EGRESS_DST} via both gateways`,
        async () => ((await gatewaysOf(lab.node, EGRESS_DST))?.length === 2 ? gatewaysOf(lab.node, EGRESS_DST) : undefined),
        30_000,
        diagnose,
      );
      expect(hops).toEqual([...GATEWAY_ADDRESSES].sort());
      expect(await gatewaysOf(lab.node, OTHER_POOL_DST)).toBeUndefined();
    }, 60_000);

    it('installs the eth0 table 135 and rule 15135 for symmetric routing', async () => {
      const table = await agent.waitFor('table 135 default via eth0', () => tableDefault(lab.node, 135), 15_000, diagnose);
      expect(table).toBe(`via ${lab.publicGateway} dev eth0`);
      const rule = await agent.waitFor('rule 15135', () => ruleAt(lab.node, 15135), 15_000, diagnose);
      expect(rule.table).toBe('135');
    }, 60_000);

    it('writes sysctls through the hostPath mount into the node namespace only', async () => {
      const written = changedKeys(nodeBefore, await netSysctls(lab.node));
      const hostAfter = await netSysctls();
      // `written` is what the agent set in the node namespace (shown on failure); none of it may reach the machine.
      expect({ written, leakedToMachine: written.filter((k) => hostBefore.get(k) !== hostAfter.get(k)) })
        .toEqual({ written: expect.any(Array), leakedToMachine: [] });
    });

    it('takes a dead gateway out of the route and puts it back when it answers again', async () => {
      const [gw1] = lab.gateways;
      const only = (want: string[]) => async () => {
        const hops = await gatewaysOf(lab.node, EGRESS_DST);
        return JSON.stringify(hops) === JSON.stringify(want) ? hops : undefined;
      };
      const seen = async () => `${JSON.stringify(await gatewaysOf(lab.node, EGRESS_DST))}\n${await diagnose()}`;
      await gw1.ns.ip('link', 'set', 'eth1', 'down');
      await agent.waitFor(`${gw1.address} out of ${EGRESS_DST}`, only([GATEWAY_ADDRESSES[1]]), 20_000, seen);
      await gw1.ns.ip('link', 'set', 'eth1', 'up');
      await agent.waitFor(`${gw1.address} back in ${EGRESS_DST}`, only([...GATEWAY_ADDRESSES].sort()), 20_000, seen);
    }, 60_000);

    it('stops on SIGTERM with exit 0 and leaves the routes in place', async () => {
      expect(await agent.stop()).toBe(0);
      expect(await gatewaysOf(lab.node, EGRESS_DST)).toEqual([...GATEWAY_ADDRESSES].sort());
    }, 60_000);
  });

  describe.each(['NET_ADMIN', 'NET_RAW'])('a DaemonSet without %s', (capability) => {
    it(`fails, and the failure names ${capability}`, async () => {
      const lab = await startNodeLab();
      const routesDir = await mkdtemp(join(tmpdir(), 'kroute-image-routes-'));
      let agent: AgentContainer | undefined;
      try {
        await writeRoutes(routesDir);
        const run = derive(daemonSetWithout(capability), lab, routesDir, built.image);
        agent = AgentContainer.start(podman, run, `${lab.lab.prefix}-agent`);
        // Several probe rounds for the agent to hit the refusal, or to die of it.
        const started = Date.now();
        const outcome = await agent.waitFor(
          'the agent to hit a refusal or exit',
          async () => {
            const a = agent as AgentContainer;
            const refused = /Operation not permitted|EPERM|EACCES/.test(a.log);
            return refused || a.exit !== undefined || Date.now() - started > 10_000 ? { refused, exit: a.exit } : undefined;
          },
          30_000,
        );
        const missing = await missingCapabilities(podman, run, agent.log);
        const message = describeMissing(missing, run.capabilities);
        // The run fails: the agent logs the kernel's refusal, or exits with an error.
        expect({ failed: outcome.refused || (outcome.exit !== undefined && outcome.exit !== 0), log: agent.log.slice(-2000) })
          .toEqual({ failed: true, log: expect.any(String) });
        // And the diagnosis names exactly the capability that was removed.
        expect({ missing: missing.map((m) => m.capability), message }).toEqual({ missing: [capability], message: expect.stringContaining(capability) });
      } finally {
        await agent?.stop(2);
        await lab.built.destroy();
        await rm(routesDir, { recursive: true, force: true });
      }
    }, 120_000);
  });
});
