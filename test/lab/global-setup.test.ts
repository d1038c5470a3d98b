/**
 * The test command's own setup: missing Debian packages are found by dpkg; what cannot be installed stops the run
 * with the one command that fixes it; only KROUTE_ALLOW_MISSING=1 outside CI lets a run go on without them.
 * Tools are made to look missing by emptying PATH for the duration of each check (nothing is installed).
 */
import globalSetup, { INSTALL_COMMAND, missingPackages, requiredPackages } from './global-setup.js';

describe('the test command installs or names its prerequisites', () => {
  const saved = { PATH: process.env.PATH, CI: process.env.CI, ALLOW: process.env.KROUTE_ALLOW_MISSING };
  afterEach(() => {
    for (const [k, v] of [['PATH', saved.PATH], ['CI', saved.CI], ['KROUTE_ALLOW_MISSING', saved.ALLOW]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('reads one package list shared with .ci/run, and finds a package that is not installed', () => {
    expect(requiredPackages()).toEqual(expect.arrayContaining(['iproute2', 'nftables', 'iputils-ping', 'podman', 'runc', 'curl']));
    expect(missingPackages(['iproute2', 'kroute-no-such-package'])).toEqual(['kroute-no-such-package']);
  });

  it('with nothing it can install (no dpkg, apt-get or Go on PATH), stops naming the packages, Go and the command', async () => {
    process.env.PATH = '/nonexistent';
    delete process.env.CI;
    delete process.env.KROUTE_ALLOW_MISSING;
    const run = globalSetup();
    await expect(run).rejects.toThrow(new RegExp(`nftables[^\\n]*${INSTALL_COMMAND.replace(/ /g, '\\s')}`));
    await expect(run).rejects.toThrow(/Go on PATH/);
  });

  it('KROUTE_ALLOW_MISSING=1 lets a local run go on, never a CI run', async () => {
    process.env.PATH = '/nonexistent';
    process.env.KROUTE_ALLOW_MISSING = '1';
    delete process.env.CI;
    await expect(globalSetup()).resolves.toBeUndefined();
    process.env.CI = 'true';
    await expect(globalSetup()).rejects.toThrow(/the test suite needs/);
  });
});
