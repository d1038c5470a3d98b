/**
 * A missing prerequisite fails the API-server tests, locally and in CI (CI=true); only the explicit opt-out
 * KROUTE_ALLOW_MISSING=1 skips them outside CI, with a message. Never a silent skip.
 * Go is made to look missing by emptying PATH for the duration of each check.
 */
import { jest } from '@jest/globals';
import { requireGoOrSkip } from './prereq.js';

describe('prerequisites of the API-server tests', () => {
  const saved = { PATH: process.env.PATH, CI: process.env.CI, ALLOW: process.env.KROUTE_ALLOW_MISSING };
  let warn: ReturnType<typeof jest.spyOn>;

  beforeEach(() => {
    process.env.PATH = '/nonexistent';
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => {
    process.env.PATH = saved.PATH;
    if (saved.CI === undefined) delete process.env.CI;
    else process.env.CI = saved.CI;
    if (saved.ALLOW === undefined) delete process.env.KROUTE_ALLOW_MISSING;
    else process.env.KROUTE_ALLOW_MISSING = saved.ALLOW;
    warn.mockRestore();
  });

  it('skips with a message naming Go when Go is missing outside CI and KROUTE_ALLOW_MISSING=1', async () => {
    delete process.env.CI;
    process.env.KROUTE_ALLOW_MISSING = '1';
    await expect(requireGoOrSkip()).resolves.toBe(false);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/SKIPPED: .*Go/));
  });

  it('fails when Go is missing outside CI without the opt-out, naming it', async () => {
    delete process.env.CI;
    delete process.env.KROUTE_ALLOW_MISSING;
    await expect(requireGoOrSkip()).rejects.toThrow(/Go .*KROUTE_ALLOW_MISSING=1/);
    expect(warn).not.toHaveBeenCalled();
  });

  it('fails when Go is missing in CI', async () => {
    process.env.CI = 'true';
    await expect(requireGoOrSkip()).rejects.toThrow(/Go .*CI=true/);
  });

  it('fails when Go is missing in CI even with KROUTE_ALLOW_MISSING=1', async () => {
    process.env.CI = 'true';
    process.env.KROUTE_ALLOW_MISSING = '1';
    await expect(requireGoOrSkip()).rejects.toThrow(/Go .*CI=true/);
  });
});
