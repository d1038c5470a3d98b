/**
 * Turns the synthesized DaemonSet into `podman run` flags, field by field, so the image test runs the agent exactly
 * as the kubelet would: same capabilities, read-only root, seccomp profile, user, environment, arguments and volumes.
 * A field this mapping does not know fails loudly instead of being dropped, so the test cannot silently run the agent
 * with more privilege than the DaemonSet grants.
 */
import type { Manifest } from '../../core/manifest.js';

/** podman's copy of the container runtime's default seccomp profile: what `RuntimeDefault` means under CRI-O/podman. */
export const RUNTIME_DEFAULT_SECCOMP = '/usr/share/containers/seccomp.json';

interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath: string } };
}
interface SecurityContext {
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly runAsNonRoot?: boolean;
  readonly privileged?: boolean;
  readonly allowPrivilegeEscalation?: boolean;
  readonly readOnlyRootFilesystem?: boolean;
  readonly capabilities?: { readonly drop?: readonly string[]; readonly add?: readonly string[] };
  readonly seccompProfile?: { readonly type: string };
}
interface Container {
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly securityContext?: SecurityContext;
  readonly volumeMounts?: readonly { readonly name: string; readonly mountPath: string; readonly readOnly?: boolean }[];
  readonly resources?: { readonly limits?: { readonly cpu?: string; readonly memory?: string } };
}
interface Volume {
  readonly name: string;
  readonly hostPath?: { readonly path: string; readonly type?: string };
  readonly emptyDir?: { readonly medium?: string; readonly sizeLimit?: string };
}
interface PodSpec {
  readonly hostNetwork?: boolean;
  readonly securityContext?: { readonly seccompProfile?: { readonly type: string } };
  readonly containers: readonly Container[];
  readonly volumes?: readonly Volume[];
}

/** What the test supplies that a cluster would: the node's network namespace, its name, and where host paths are. */
export interface RunFlagsProps {
  /** `/run/netns/NAME` of the namespace that stands in for the node's own (hostNetwork). */
  readonly nodeNetnsPath: string;
  /** The value of the downward API's `spec.nodeName`. */
  readonly nodeName: string;
  /** Maps a hostPath volume's path to a path on this machine; throw for paths the test does not provide. */
  readonly hostPath: (path: string) => string;
  /** Image to run. @default the DaemonSet's */
  readonly image?: string;
  /** Extra flags placed before the image (the Route file mount, a container name). @default [] */
  readonly extra?: readonly string[];
}

/** The derived invocation: `podman run` OPTIONS IMAGE ARGS. */
export interface DerivedRun {
  /** Everything after `podman` and before the image: `run --rm --network ns:... --cap-drop ALL ...`. */
  readonly options: readonly string[];
  readonly image: string;
  /** The container's arguments (the DaemonSet's args, generated from core/options.ts). */
  readonly args: readonly string[];
  /** The whole argument list for podman. */
  readonly podmanArgs: readonly string[];
  /** The capabilities the container keeps, as the DaemonSet says. */
  readonly capabilities: readonly string[];
}

function podSpec(ds: Manifest): PodSpec {
  const spec = (ds.spec as { template?: { spec?: PodSpec } } | undefined)?.template?.spec;
  if (ds.kind !== 'DaemonSet' || spec === undefined) throw new Error(`not a DaemonSet with a pod template: ${ds.kind}`);
  return spec;
}

function seccomp(type: string | undefined): string[] {
  switch (type) {
    // Unset: the kubelet's default is Unconfined unless --seccomp-default is set; the DaemonSet sets it explicitly.
    case undefined:
    case 'Unconfined':
      return ['--security-opt', 'seccomp=unconfined'];
    case 'RuntimeDefault':
      return ['--security-opt', `seccomp=${RUNTIME_DEFAULT_SECCOMP}`];
    default:
      throw new Error(`seccompProfile.type ${type} has no podman equivalent in this test`);
  }
}

/** Kubernetes quantity (`16Mi`, `128Mi`, `200m`) in podman's terms. */
function memory(q: string): string {
  const m = /^([0-9]+)(Ki|Mi|Gi)?$/.exec(q);
  if (!m) throw new Error(`memory quantity ${q} is not supported here`);
  const unit = { Ki: 'k', Mi: 'm', Gi: 'g' }[m[2] ?? ''] ?? 'b';
  return `${m[1]}${unit}`;
}

function cpus(q: string): string {
  return q.endsWith('m') ? String(Number(q.slice(0, -1)) / 1000) : q;
}

function envFlags(env: readonly EnvVar[], nodeName: string): string[] {
  return env.flatMap((e) => {
    if (e.value !== undefined) return ['--env', `${e.name}=${e.value}`];
    const path = e.valueFrom?.fieldRef?.fieldPath;
    if (path === 'spec.nodeName') return ['--env', `${e.name}=${nodeName}`];
    throw new Error(`env ${e.name}: valueFrom ${JSON.stringify(e.valueFrom)} is not mapped in this test`);
  });
}

function volumeFlags(c: Container, volumes: readonly Volume[], props: RunFlagsProps): string[] {
  return (c.volumeMounts ?? []).flatMap((m) => {
    const v = volumes.find((x) => x.name === m.name);
    if (v === undefined) throw new Error(`volumeMount ${m.name} names no volume`);
    if (v.hostPath) return ['--volume', `${props.hostPath(v.hostPath.path)}:${m.mountPath}:${m.readOnly ? 'ro' : 'rw'}`];
    if (v.emptyDir) {
      // An emptyDir is writable, private to the pod and empty at start; medium Memory is a tmpfs, as here.
      const size = v.emptyDir.sizeLimit ? `,size=${memory(v.emptyDir.sizeLimit)}` : '';
      return ['--tmpfs', `${m.mountPath}:rw,nosuid,nodev,mode=1777${size}`];
    }
    throw new Error(`volume ${v.name}: only hostPath and emptyDir are mapped in this test`);
  });
}

/** Derives `podman run` flags from the DaemonSet's pod template (its one container). */
export function runFlagsFromDaemonSet(ds: Manifest, props: RunFlagsProps): DerivedRun {
  const spec = podSpec(ds);
  if (spec.containers.length !== 1) throw new Error(`expected one container, got ${spec.containers.length}`);
  const c = spec.containers[0];
  const sc = c.securityContext ?? {};
  if (spec.hostNetwork !== true) throw new Error('the DaemonSet does not use hostNetwork; the test runs the agent in the node namespace');
  if (sc.privileged) throw new Error('the DaemonSet runs the agent privileged: refusing, the point is least privilege');
  const user = sc.runAsUser ?? 0;
  if (sc.runAsNonRoot && user === 0) throw new Error('runAsNonRoot with runAsUser 0 would not start');
  const drop = sc.capabilities?.drop ?? [];
  const add = sc.capabilities?.add ?? [];
  const options: string[] = [
    'run', '--rm', '--pull=never',
    '--network', `ns:${props.nodeNetnsPath}`,
    '--user', `${user}:${sc.runAsGroup ?? 0}`,
    ...drop.flatMap((cap) => ['--cap-drop', cap]),
    ...add.flatMap((cap) => ['--cap-add', cap]),
    ...(sc.allowPrivilegeEscalation === false ? ['--security-opt', 'no-new-privileges'] : []),
    // podman's --read-only also mounts tmpfs on /tmp, /var/tmp and /run by default; the kubelet does not.
    ...(sc.readOnlyRootFilesystem ? ['--read-only', '--read-only-tmpfs=false'] : []),
    ...seccomp(sc.seccompProfile?.type ?? spec.securityContext?.seccompProfile?.type),
    ...(c.resources?.limits?.memory ? ['--memory', memory(c.resources.limits.memory)] : []),
    ...(c.resources?.limits?.cpu ? ['--cpus', cpus(c.resources.limits.cpu)] : []),
    ...envFlags(c.env ?? [], props.nodeName),
    ...volumeFlags(c, spec.volumes ?? [], props),
    ...(c.command ? ['--entrypoint', JSON.stringify(c.command)] : []),
    ...(props.extra ?? []),
  ];
  const image = props.image ?? c.image;
  const args = [...(c.args ?? [])];
  const capabilities = drop.includes('ALL') ? [...add] : [...add, '(runtime defaults)'];
  return { options, image, args, podmanArgs: [...options, image, ...args], capabilities };
}
