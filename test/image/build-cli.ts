/**
 * `npm run image`: builds the agent image here (podman + runc, no registry), saves it as an OCI archive and a docker
 * archive under dist/image/, and prints the time and the sizes. Flags: `--base debs|debootstrap`, `--tag NAME`,
 * `--context-only` (stage dist/image/context for `docker build` and stop), `--no-save`.
 */
import { parseArgs } from 'node:util';
import { buildImage } from './build.js';

const MB = 1024 * 1024;

function mb(bytes: number): string {
  return `${(bytes / MB).toFixed(1)} MB`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      base: { type: 'string', default: 'debs' },
      tag: { type: 'string' },
      'context-only': { type: 'boolean', default: false },
      'no-save': { type: 'boolean', default: false },
    },
  });
  if (values.base !== 'debs' && values.base !== 'debootstrap') {
    throw new Error(`--base: "${values.base}" is not a base variant; use debs or debootstrap`);
  }
  const built = await buildImage({
    base: values.base,
    ...(values.tag !== undefined ? { tag: values.tag } : {}),
    compile: false,
    save: !values['no-save'],
    contextOnly: values['context-only'],
    log: (line) => process.stderr.write(`${line}\n`),
  });
  if (values['context-only']) {
    process.stdout.write(`context: ${built.contextDir}\n  docker build -f agent/Containerfile -t ${built.image} ${built.contextDir}\n`);
    return;
  }
  const lines = [
    `image: ${built.image} (${built.rebuilt ? 'built' : 'unchanged, reused'}; inputs ${built.inputsHash.slice(0, 12)})`,
    ...(built.base ? [`base: ${built.base.image} (${built.base.variant}, ${built.base.rebuilt ? 'built' : 'cached'}, ${built.base.seconds.toFixed(1)} s)`] : []),
    `time: ${built.seconds.toFixed(1)} s (${Object.entries(built.phases).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')})`,
    `image size: ${mb(built.sizeBytes)} (node_modules ${mb(built.nodeModulesBytes)})`,
    ...(built.ociArchive ? [`compressed (OCI archive, gzip layers): ${mb(built.ociArchive.bytes)}  ${built.ociArchive.path}`] : []),
    ...(built.ociArchive ? [`digest: ${built.ociArchive.digest} (dist/image/kroute-agent.digest; pin it: helm --set image.digest=$(cat dist/image/kroute-agent.digest), cdk8s/Pulumi image: { digest })`] : []),
    ...(built.dockerArchive ? [`docker archive: ${mb(built.dockerArchive.bytes)}  ${built.dockerArchive.path}`] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`npm run image: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
