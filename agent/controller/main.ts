#!/usr/bin/env node
/**
 * kroute-controller: summarizes the nodes' RouteReports into each Route's status and holds each Route's finalizer
 * until no live agent reports it (docs/status.md). One replica leads (a coordination.k8s.io Lease); the others wait.
 *
 *   kroute-controller [--kubeconfig FILE] [--namespace kube-system] [--leader-lease NAME] [--identity ID]
 *                     [--health-port 9182] [--log-level info]
 *
 * The health port serves /healthz, /readyz and /metrics (agent/controller/http.ts).
 *
 * Exit codes: 0 after SIGTERM/SIGINT, 1 when leadership is lost (the Deployment restarts it), 2 on bad flags.
 */
import { hostname } from 'node:os';
import type { LogLevel } from '../../core/index.js';
import { CONTROLLER_HEALTH_PORT, CONTROLLER_LEADER_LEASE } from '../../core/index.js';
import { loadKubeConfig } from '../kube/api.js';
import { systemClock } from '../kube/backoff.js';
import { jsonLogger } from '../log.js';
import { clientControllerApi } from './api.js';
import { RouteController } from './controller.js';
import { startControllerHttp } from './http.js';
import { LeaderElector } from './leader.js';

/** The controller's flags. */
export interface ControllerFlags {
  readonly kubeconfig: string;
  readonly namespace: string;
  readonly leaderLease: string;
  readonly identity: string;
  readonly healthPort: number;
  readonly logLevel: LogLevel;
}

/** Parses `--flag value` / `--flag=value`; errors name the flag and the value. */
export function parseControllerFlags(argv: readonly string[], env: NodeJS.ProcessEnv): { ok: true; value: ControllerFlags } | { ok: false; errors: string[] } {
  const v: Record<string, string> = {
    kubeconfig: env.KUBECONFIG ?? '',
    namespace: 'kube-system',
    'leader-lease': CONTROLLER_LEADER_LEASE,
    identity: env.POD_NAME ?? `${hostname()}-${process.pid}`,
    'health-port': String(CONTROLLER_HEALTH_PORT),
    'log-level': 'info',
  };
  const errors: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m || !(m[1] as string in v)) {
      errors.push(`${a}: unknown flag (known: ${Object.keys(v).map((k) => `--${k}`).join(', ')})`);
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) errors.push(`--${m[1]}: needs a value`);
    else v[m[1] as string] = value;
  }
  const port = Number(v['health-port']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) errors.push(`--health-port: "${v['health-port']}" is not a port (0-65535; 0 disables)`);
  if (!['debug', 'info', 'warn', 'error'].includes(v['log-level'] as string)) errors.push(`--log-level: "${v['log-level']}" is not one of debug, info, warn, error`);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v.namespace as string)) errors.push(`--namespace: "${v.namespace}" is not a namespace name`);
  if (errors.length) return { ok: false, errors };
  return {
    ok: true,
    value: {
      kubeconfig: v.kubeconfig as string,
      namespace: v.namespace as string,
      leaderLease: v['leader-lease'] as string,
      identity: v.identity as string,
      healthPort: port,
      logLevel: v['log-level'] as LogLevel,
    },
  };
}

async function main(): Promise<number> {
  const parsed = parseControllerFlags(process.argv.slice(2), process.env);
  if (!parsed.ok) {
    for (const e of parsed.errors) process.stderr.write(`kroute-controller: ${e}\n`);
    return 2;
  }
  const f = parsed.value;
  const log = jsonLogger(f.logLevel).with({ component: 'controller' });
  const api = clientControllerApi(loadKubeConfig(f.kubeconfig));
  let controller: RouteController | undefined;
  let resolveExit: (code: number) => void = () => undefined;
  const exit = new Promise<number>((r) => (resolveExit = r));
  const elector = new LeaderElector({
    api,
    namespace: f.namespace,
    name: f.leaderLease,
    identity: f.identity,
    log,
    clock: systemClock,
    onStartedLeading: () => {
      controller = new RouteController({ api, namespace: f.namespace, log, clock: systemClock });
      void controller.start().then(() => log.info('controller started', { namespace: f.namespace }));
    },
    onStoppedLeading: () => {
      void controller?.stop();
      controller = undefined;
      if (!stopping) resolveExit(1);
    },
  });
  const health = f.healthPort
    ? await startControllerHttp({
        port: f.healthPort,
        state: () => ({
          leading: elector.isLeader,
          synced: controller?.synced ?? false,
          sinceRenewMs: Date.now() - elector.lastRenewed,
          ...(controller ? { counts: controller.counts, gauges: controller.gauges() } : {}),
        }),
      })
    : undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    void elector.stop().finally(async () => {
      await controller?.stop();
      api.close?.();
      health?.close();
      resolveExit(0);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  elector.start();
  log.info('campaigning for leadership', { lease: `${f.namespace}/${f.leaderLease}`, identity: f.identity });
  return exit;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`kroute-controller: ${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
