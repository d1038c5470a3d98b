/**
 * The image's base, made here from Debian's packages (no registry): either a rootfs unpacked from the few .debs that
 * Node, `ip` and `fping` need (`debs`, the default and the smaller), or a debootstrap minbase with apt inside
 * (`debootstrap`, the stand-in for docker.io/library/debian:bookworm-slim). Each is cached as a tar under the user's
 * cache directory and as a local podman image labelled with the hash of its inputs, and rebuilt only when they change.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listDir } from './context.js';
import { command, imageCacheDir, mustRun, type Podman } from './podman.js';

/** Which base recipe to use. */
export type BaseVariant = 'debs' | 'debootstrap';

/** A base image ready in podman's store. */
export interface BaseImage {
  readonly variant: BaseVariant;
  /** Local image name, e.g. `localhost/kroute-base:bookworm`. */
  readonly image: string;
  /** Hash of the recipe's inputs (label `io.kroute.base.inputs`). */
  readonly inputsHash: string;
  /** `apt` when the Containerfile must install iproute2 and fping, `base` when the base already has them. */
  readonly tools: 'apt' | 'base';
  readonly rebuilt: boolean;
  readonly seconds: number;
}

/** Bumped whenever the recipe below changes in a way the package list does not show. */
const RECIPE_VERSION = '5';
const SUITE = 'bookworm';
const LABEL = 'io.kroute.base.inputs';
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The `debs` rootfs: exactly what the agent executes and what those executables link. `ldd` of Debian's node, ip and
 * fping gives the libraries; nothing else from iproute2 (tc, ss, ...) is kept, so their extra libraries are not needed.
 * No `ping`: forwarding probes are kroute-probe's (static, copied in by the Containerfile), not one ping per gateway.
 */
export const BASE_PACKAGES: readonly string[] = [
  'base-files', // /etc/os-release (scanners identify the distribution by it), directory layout
  'netbase', // /etc/protocols, /etc/services
  'libc6', // node, ip, fping
  'libgcc-s1', // node
  'libstdc++6', // node
  'iproute2', // ip
  'libbpf1', // ip
  'libelf1', // ip (via libbpf)
  'zlib1g', // ip
  'libmnl0', // ip
  'libbsd0', // ip
  'libmd0', // ip (via libbsd)
  'libcap2', // ip
  'fping', // the prober: one long-lived fping for every gateway (links libc only)
];

/** Executables kept in the `debs` rootfs; every other file in a bin directory goes. */
const KEEP_EXECUTABLES = new Set(['bin/ip', 'sbin/ip', 'usr/bin/fping']);
const BIN_DIRS = ['bin', 'sbin', 'usr/bin', 'usr/sbin'];
/** Never read at run time: documentation (the copyright files stay: they are the licences), locales, iconv modules. */
const PRUNE = ['usr/share/man', 'usr/share/info', 'usr/share/lintian', 'usr/share/locale', 'usr/share/bug',
  'usr/share/common-licenses', 'usr/lib/x86_64-linux-gnu/gconv', 'usr/include', 'usr/share/zoneinfo'];
/** Emptied but kept (apt expects them): the package lists and caches debootstrap leaves. */
const EMPTY = ['var/lib/apt/lists', 'var/cache/apt'];

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The exact .debs apt would fetch (name, version, sha256), without fetching them. */
async function resolvePackages(packages: readonly string[]): Promise<string[]> {
  const out = await mustRun('apt-get', ['download', '--print-uris', '-o', 'APT::Sandbox::User=root', ...packages], {
    cwd: imageCacheDir(),
  });
  return out.split('\n').filter((l) => l.startsWith("'")).map((l) => l.split(' ').slice(1).join(' ')).sort();
}

async function pruneDocs(root: string): Promise<void> {
  for (const p of PRUNE) await rm(join(root, p), { recursive: true, force: true });
  for (const p of EMPTY) {
    for (const f of await listDir(join(root, p))) {
      if (f !== 'partial' && f !== 'archives') await rm(join(root, p, f), { recursive: true, force: true });
    }
  }
  const docs = join(root, 'usr/share/doc');
  for (const pkg of await listDir(docs)) {
    for (const f of await listDir(join(docs, pkg))) {
      if (f !== 'copyright') await rm(join(docs, pkg, f), { recursive: true, force: true });
    }
  }
}

async function unpackDebs(root: string, work: string): Promise<void> {
  const debs = join(work, 'debs');
  await mkdir(debs, { recursive: true });
  await chmod(work, 0o755);
  await mustRun('apt-get', ['download', '-o', 'APT::Sandbox::User=root', ...BASE_PACKAGES], { cwd: debs });
  const statusDir = join(root, 'var/lib/dpkg/status.d');
  await mkdir(statusDir, { recursive: true });
  for (const deb of (await readdir(debs)).filter((f) => f.endsWith('.deb')).sort()) {
    await mustRun('dpkg-deb', ['-x', join(debs, deb), root]);
    // As distroless does: each package's control record, so image scanners see what is inside without a dpkg database.
    const control = await mustRun('dpkg-deb', ['-f', join(debs, deb)]);
    const name = /^Package: (.+)$/m.exec(control)?.[1] ?? deb;
    await writeFile(join(statusDir, name), control);
  }
  for (const dir of BIN_DIRS) {
    for (const f of await listDir(join(root, dir))) {
      if (!KEEP_EXECUTABLES.has(`${dir}/${f}`)) await rm(join(root, dir, f), { force: true, recursive: true });
    }
  }
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
  await writeFile(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  await writeFile(join(root, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\nprotocols: files\nservices: files\n');
  await writeFile(join(root, 'etc/ld.so.conf'), 'include /etc/ld.so.conf.d/*.conf\n');
  for (const d of ['tmp', 'root', 'proc', 'sys', 'dev', 'run']) await mkdir(join(root, d), { recursive: true });
  await chmod(join(root, 'tmp'), 0o1777);
  // No dpkg postinst ran, so fping has neither file capabilities nor setuid: root with NET_RAW opens a raw socket.
  await mustRun('ldconfig', ['-r', root]);
}

async function debootstrap(root: string, mirror: string): Promise<void> {
  // What docker.io/library/debian:bookworm-slim is, roughly: minbase, apt inside, no tools of the agent's.
  await mustRun('debootstrap', ['--variant=minbase', SUITE, root, mirror], { timeoutMs: 900_000 });
  await pruneDocs(root);
}

/** The mirror debootstrap uses: `KROUTE_DEBIAN_MIRROR`, or the one apt is configured with. */
export function debianMirror(): string {
  return process.env.KROUTE_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
}

/** Builds (or reuses) the base image of one variant. */
export async function ensureBase(podman: Podman, variant: BaseVariant, log: (line: string) => void): Promise<BaseImage> {
  const started = Date.now();
  const image = variant === 'debs' ? `localhost/kroute-base:${SUITE}` : `localhost/kroute-base:${SUITE}-minbase`;
  const tools = variant === 'debs' ? 'base' : 'apt';
  const inputs =
    variant === 'debs'
      ? { RECIPE_VERSION, variant, packages: await resolvePackages(BASE_PACKAGES), keep: [...KEEP_EXECUTABLES], PRUNE, EMPTY }
      : { RECIPE_VERSION, variant, SUITE, mirror: debianMirror(), PRUNE, EMPTY };
  const inputsHash = sha256(JSON.stringify(inputs)).slice(0, 32);
  const seconds = () => (Date.now() - started) / 1000;
  if ((await podman.imageLabel(image, LABEL)) === inputsHash) {
    return { variant, image, inputsHash, tools, rebuilt: false, seconds: seconds() };
  }
  const dir = join(imageCacheDir(), 'base');
  await mkdir(dir, { recursive: true });
  const tarball = join(dir, `${variant}-${inputsHash}.tar`);
  const cached = await stat(tarball).then(() => true, () => false);
  if (!cached) {
    log(`base: building the ${variant} rootfs (${variant === 'debs' ? `${BASE_PACKAGES.length} packages` : 'debootstrap minbase'})`);
    const work = await mkdtemp(join(dir, 'work-'));
    try {
      const root = join(work, 'rootfs');
      await mkdir(root);
      if (variant === 'debs') {
        await unpackDebs(root, work);
        await pruneDocs(root);
      } else {
        await debootstrap(root, debianMirror());
      }
      const caps = await command('getcap', ['-r', root]);
      if (caps.stdout.trim() !== '') throw new Error(`the base rootfs has file capabilities: ${caps.stdout.trim()}`);
      await mustRun('tar', ['--numeric-owner', '--xattrs', '--sort=name', '--mtime=@0', '-C', root, '-cf', `${tarball}.part`, '.']);
      await rename(`${tarball}.part`, tarball);
      // One tarball per variant: older inputs' tarballs are never used again.
      for (const f of await listDir(dir)) {
        if (f.startsWith(`${variant}-`) && join(dir, f) !== tarball) await rm(join(dir, f), { force: true });
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  log(`base: importing ${tarball} as ${image}`);
  const previous = (await podman.run(['image', 'inspect', '--format', '{{.Id}}', image])).stdout.trim();
  await podman.must(['import', '--change', `ENV ${PATH_ENV}`, '--change', `LABEL ${LABEL}=${inputsHash}`, tarball, image]);
  // The base this tag named before is dangling now; podman refuses while an image still uses it, which is fine.
  if (previous !== '') await podman.run(['rmi', previous]);
  return { variant, image, inputsHash, tools, rebuilt: true, seconds: seconds() };
}
