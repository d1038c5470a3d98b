/**
 * Shared setup of the API-server test files: prerequisites, a lab namespace, a control plane on 127.0.0.1 inside
 * it, and the Route CRD installed and Established. One control plane per test file (files run one after another).
 */
import { stringify } from 'yaml';
import { routeCrd } from '../../core/index.js';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.js';
import { NetnsLab } from '../net/netns.js';

/** The Route CRD's name. */
export const ROUTE_CRD_NAME = 'routes.networking.doks.digitalocean.com';

/** Building the binaries on a fresh machine takes minutes (measured in docs/control-plane.md). */
export const SETUP_TIMEOUT_MS = 20 * 60_000;

/** A started control plane with its lab; `stop()` tears both down. */
export interface ApiServerLab {
  readonly cp: ControlPlane;
  stop(): Promise<void>;
}

/** Starts a control plane in a fresh namespace; with `crd: true` installs the Route CRD and waits for Established. */
export async function startApiServerLab(opts: { readonly crd?: boolean } = {}): Promise<ApiServerLab> {
  const lab = new NetnsLab();
  try {
    const ns = await lab.add('cp');
    const cp = await startControlPlane({ netns: ns, address: '127.0.0.1' });
    const stop = async (): Promise<void> => {
      await cp.stop();
      await lab.cleanup();
    };
    try {
      if (opts.crd) {
        await cp.apply([routeCrd()]);
        const est = await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', `crd/${ROUTE_CRD_NAME}`]);
        if (est.code !== 0) throw new Error(`the Route CRD did not become Established: ${est.stderr}`);
      }
    } catch (e) {
      await stop();
      throw e;
    }
    return { cp, stop };
  } catch (e) {
    await lab.cleanup();
    throw e;
  }
}

/** `kubectl apply --server-side --dry-run=server` of one or more objects as admin. */
export function dryRunApply(cp: ControlPlane, objects: readonly object[]): ReturnType<ControlPlane['kubectl']> {
  return cp.kubectl(['apply', '--server-side', '--dry-run=server', '--field-manager=kroute-test', '-f', '-'], {
    input: objects.map((o) => stringify(o)).join('---\n'),
  });
}
