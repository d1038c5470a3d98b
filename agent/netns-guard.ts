/**
 * Developer-machine safety: with KROUTE_REQUIRE_NETNS=1 (tests set it) the agent refuses to run in the machine's
 * initial network namespace, so a test mistake can never rewrite the developer's own routes.
 *
 * The check compares /proc/self/ns/net with /proc/1/ns/net. Where /proc/1 cannot be read (a sandbox whose pid 1
 * is not ours to inspect), the agent runs only when its namespace is one of the named namespaces under /run/netns
 * (what `ip netns add` and the tests create); anything else is refused.
 */
import { readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';

const NETNS_DIR = '/run/netns';

function inode(link: string): number | undefined {
  const m = /^net:\[(\d+)\]$/.exec(link);
  return m ? Number(m[1]) : undefined;
}

/** Why the agent must not run here, or undefined when it may. */
export async function netnsRefusal(env: Readonly<Record<string, string | undefined>>): Promise<string | undefined> {
  if (env.KROUTE_REQUIRE_NETNS !== '1') return undefined;
  const self = await readlink('/proc/self/ns/net').catch(() => undefined);
  if (self === undefined) return 'KROUTE_REQUIRE_NETNS=1 but /proc/self/ns/net cannot be read';
  const init = await readlink('/proc/1/ns/net').catch(() => undefined);
  if (init !== undefined) {
    return self === init ? `KROUTE_REQUIRE_NETNS=1 and this process is in the machine's initial network namespace (${self}); run it inside a test namespace` : undefined;
  }
  const names = await readdir(NETNS_DIR).catch(() => [] as string[]);
  for (const n of names) {
    const s = await stat(join(NETNS_DIR, n)).catch(() => undefined);
    if (s && s.ino === inode(self)) return undefined;
  }
  return `KROUTE_REQUIRE_NETNS=1: /proc/1/ns/net cannot be read and this process's namespace (${self}) is not a named test namespace under ${NETNS_DIR}; refusing to run`;
}
