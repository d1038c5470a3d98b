/**
 * The Prometheus Operator's own PodMonitor CRD, so the chart's PodMonitor is checked against the real schema by a
 * real API server. It comes from the operator's Go module (its `example/prometheus-operator-crd/` folder), fetched
 * through the Go module proxy into Go's module cache like every other Go input of the tests, at a pinned version.
 */
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goEnv, runGo } from '../cluster/binaries.js';

/** The prometheus-operator release whose CRD the tests install. */
export const PROMETHEUS_OPERATOR_VERSION = 'v0.80.1';

/** The PodMonitor CRD's YAML text (monitoring.coreos.com_podmonitors.yaml). */
export async function podMonitorCrdYaml(): Promise<string> {
  const mod = `github.com/prometheus-operator/prometheus-operator@${PROMETHEUS_OPERATOR_VERSION}`;
  // Outside any module (tmpdir): `go mod download path@version` needs no go.mod of ours.
  const r = await runGo(['mod', 'download', '-json', mod], tmpdir(), { ...goEnv(), GOFLAGS: '' });
  if (r.code !== 0) throw new Error(`go mod download ${mod} failed (${r.code}): ${r.stdout}${r.stderr}`);
  const dir = (JSON.parse(r.stdout) as { Dir?: string }).Dir;
  if (!dir) throw new Error(`go mod download ${mod}: no Dir in ${r.stdout}`);
  return readFile(join(dir, 'example', 'prometheus-operator-crd', 'monitoring.coreos.com_podmonitors.yaml'), 'utf8');
}
