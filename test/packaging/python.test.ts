/**
 * A Python cdk8s user: the wheel `npm run package` writes (jsii-pacmak), installed into a fresh virtualenv with
 * cdk8s from PyPI, synthesizes the chart the TypeScript users synthesize, and gets the same objects. The venv is
 * kept per wheel under ${XDG_CACHE_HOME:-~/.cache}/kroute/packaging/.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { command, mustRun } from '../image/podman.js';
import { BAD_GATEWAY, PY_CHART, referenceObjects } from './chart.js';
import { ROOT, WORK } from './consumers.js';

let python: string;
let dir: string;

beforeAll(async () => {
  await mustRun('npm', ['run', 'package', '--silent', '--', 'python'], { cwd: ROOT, timeoutMs: 900_000 });
  const wheelDir = join(ROOT, 'dist', 'packages', 'python');
  const wheel = (await readdir(wheelDir)).find((f) => f.endsWith('.whl'));
  if (!wheel) throw new Error(`npm run package wrote no wheel into ${wheelDir}`);
  const hash = createHash('sha256').update(await readFile(join(wheelDir, wheel))).digest('hex').slice(0, 12);
  dir = join(WORK, `python-user-${hash}`);
  python = join(dir, 'venv', 'bin', 'python');
  if (!existsSync(join(dir, '.installed'))) {
    await mkdir(WORK, { recursive: true });
    for (const old of await readdir(WORK)) if (old.startsWith('python-user-')) await rm(join(WORK, old), { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await mustRun('python3', ['-m', 'venv', join(dir, 'venv')]);
    await mustRun(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', join(wheelDir, wheel), 'cdk8s>=2.68,<3'], { timeoutMs: 600_000 });
    await writeFile(join(dir, '.installed'), wheel + '\n');
  }
  await writeFile(join(dir, 'main.py'), PY_CHART);
}, 1_200_000);

describe('kroute-cdk8s for Python, from the wheel', () => {
  it('installs from the wheel with cdk8s from PyPI', async () => {
    const r = await mustRun(python, ['-m', 'pip', 'show', 'kroute-cdk8s', 'cdk8s']);
    expect(r).toMatch(/Name: kroute-cdk8s\nVersion: 0\.1\.0/);
    expect(r).toMatch(/Name: cdk8s\n/);
  });

  it('synthesizes the TypeScript chart\'s objects, and a bad prop reaches Python as an error with the full text', async () => {
    const r = await command(python, [join(dir, 'main.py')], { cwd: dir, timeoutMs: 300_000 });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { objects: unknown[]; error: string };
    expect(out.objects).toEqual(referenceObjects());
    expect(out.objects.map((o) => (o as { kind: string }).kind)).toEqual(
      expect.arrayContaining(['CustomResourceDefinition', 'DaemonSet', 'Route']),
    );
    expect(out.error).toMatch(/^\w*Error: /);
    expect(out.error).toContain('Route "bad/r" is invalid');
    expect(out.error).toContain(BAD_GATEWAY);
  });
});
