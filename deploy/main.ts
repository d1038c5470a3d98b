/**
 * `npm run manifests`: writes `dist/install.yaml` and the Helm chart `charts/kroute/` from the core's objects
 * (deploy/chart.ts). The chart is committed (so `helm install ./charts/kroute` works from a clone);
 * test/install/manifests.test.ts fails when the committed copy is stale.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chartFiles, installYaml } from './chart.js';

/** The repository root, from the sources (deploy/) or the build (lib/deploy/). */
export const REPO_ROOT = dirname(fileURLToPath(import.meta.url)).replace(/\/lib\/deploy$/, '').replace(/\/deploy$/, '');
/** Where the chart is written. */
export const CHART_DIR = join(REPO_ROOT, 'charts', 'kroute');
/** Where the install manifest is written. */
export const INSTALL_YAML = join(REPO_ROOT, 'dist', 'install.yaml');

/** Writes the install manifest and the chart (the chart folder is replaced whole); returns the paths written. */
export async function writeManifests(): Promise<string[]> {
  await mkdir(dirname(INSTALL_YAML), { recursive: true });
  await writeFile(INSTALL_YAML, installYaml());
  await rm(CHART_DIR, { recursive: true, force: true });
  const written = [INSTALL_YAML];
  for (const [path, text] of Object.entries(chartFiles())) {
    const target = join(CHART_DIR, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, text);
    written.push(target);
  }
  return written;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const files = await writeManifests();
  console.log(`wrote ${files[0]} and the Helm chart ${CHART_DIR} (${files.length - 1} files)`);
  console.log('install with: kubectl apply -f dist/install.yaml   or   helm install kroute ./charts/kroute -n kroute-system --create-namespace');
}
