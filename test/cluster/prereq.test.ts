/**
 * A missing prerequisite skips the API-server tests locally and fails them in CI (CI=true), never a silent skip.
 * Go is made to look missing by emptying PATH for the duration of each check.
 */
import { jest } from '@jest/globals';
import { requireGoOrSkip } from './prereq.js';

describe('prerequisites of the API-server tests', () => {
  const saved = { PATH: process.env.PATH, CI: process.env.CI };
  let warn: ReturnType<typeof jest.spyOn>;

  beforeEach(() => {
    process.env.PATH = '/nonexistent';
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => {
    process.env.PATH = saved.PATH;
    if (saved.CI === undefined) delete process.env.CI;
    else process.env.CI = saved.CI;
    warn.mockRestore();
  });

  it('skips with a message naming Go when Go is missing outside CI', async () => {
    delete process.env.CI;
    await expect(requireGoOrSkip()).resolves.toBe(false);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/SKIPPED: .*Go/));
  });

  it('fails when Go is missing in CI', async () => {
    process.env.CI = 'true';
    await expect(requireGoOrSkip()).rejects.toThrow(/Go .*CI=true/);
  });
});
