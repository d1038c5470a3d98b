/**
 * The agent image's size, for the results file: built (or reused when its inputs are unchanged) by the same code as
 * `npm run image`, saved as an OCI archive so the compressed size is what a node would pull.
 */
import { buildImage } from '../image/build.js';
import type { BenchResult } from './types.js';
import { round } from './types.js';

const MB = 1024 * 1024;

/** Module name for `node lib/test/bench/main.js image`. */
export const name = 'image';

/** Builds or reuses the image and reports its uncompressed, compressed and node_modules sizes. */
export async function run(): Promise<BenchResult[]> {
  const built = await buildImage({ save: true, compile: false });
  const how = `podman + runc, base from Debian packages; ${built.rebuilt ? `built in ${round(built.seconds)} s` : 'inputs unchanged, reused'}`;
  return [
    { name: 'image size (uncompressed)', value: round(built.sizeBytes / MB), unit: 'MB', goal: '< 200 MB (Node itself is ~125 MB)', met: built.sizeBytes < 200 * MB, note: how },
    ...(built.ociArchive ? [{ name: 'image size (OCI archive, gzip)', value: round(built.ociArchive.bytes / MB), unit: 'MB', note: 'what a registry stores and a node pulls' }] : []),
    { name: 'of which node_modules', value: round(built.nodeModulesBytes / MB), unit: 'MB', note: 'production dependencies only; @kubernetes/client-node is most of it' },
  ];
}
