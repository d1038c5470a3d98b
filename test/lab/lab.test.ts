/**
 * The lab itself (root, network namespaces): a spec becomes namespaces that really pass traffic, a bad spec is
 * refused naming the field before anything is made, the lab refuses namespaces it did not make, a crashed run's
 * namespaces are removed by the next run (pid marker), a live run's are not, and the printed topology says what
 * was built, stand-ins labelled.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgent } from './agent.js';
import { useLab } from './jest.js';
import { buildLab } from './lab.js';
import { MARKER_DIR, Netns, NetnsLab, netnsPath, run, sweepCrashedRuns } from './netns.js';
import { flows, pingOnce, routeGet } from './traffic.js';
import { until } from './wait.js';

const namespaces = () => (existsSync('/run/netns') ? readdirSync('/run/netns') : []);

describe('the test lab (root, network namespaces)', () => {
  const lab = useLab({
    name: 'two hosts and a router',
    namespaces: {
      a: { addresses: { eth0: ['10.9.1.2/24', '2001:db8:91::2/64'] }, routes: ['default via 10.9.1.1', 'default via 2001:db8:91::1'] },
      r: { label: 'router', forward: true, count: { iif: 'br0', watch: '10.9.1.2' }, nat: { masquerade: 'b' }, bridges: ['br0'], addresses: { br0: ['10.9.1.1/24', '2001:db8:91::1/64'], b: ['10.9.2.1/24'] } },
      b: { standIn: 'a far service', addresses: { eth0: ['10.9.2.2/24'] }, services: [{ name: 'echo', echo: { addresses: ['10.9.2.2'] } }] },
    },
    links: [['r:b', 'b:eth0']],
    ports: { 'r:br0': ['a:eth0'] },
  });

  it('builds what the spec says: routes, forwarding, NAT, an echo service, and flows counted at the router', async () => {
    expect(await routeGet(lab.ns('a'), '10.9.2.2')).toMatch(/via 10\.9\.1\.1 dev eth0/);
    expect(await pingOnce(lab.ns('a'), '10.9.1.1')).toMatchObject({ code: 0 });
    expect(await pingOnce(lab.ns('a'), '2001:db8:91::1')).toMatchObject({ code: 0 });
    await lab.resetCounters();
    // The router masquerades to its address on b's side: that is what the service sees.
    expect(await flows(lab.ns('a'), 'tcp', '10.9.2.2', 3)).toEqual(Array(3).fill('10.9.2.1'));
    expect(await flows(lab.ns('a'), 'udp', '10.9.2.2', 2, { sequential: true })).toEqual(Array(2).fill('10.9.2.1'));
    expect(await lab.counters('r')).toMatchObject({ flows: 5 });
    expect((await lab.counters('r')).fromPublic).toBeGreaterThanOrEqual(5);
    await expect(lab.counters('a')).rejects.toThrow(/a counts nothing/);
  });

  it('prints the topology it built, stand-ins labelled', async () => {
    const text = await lab.describe();
    expect(text).toContain(`lab two hosts and a router (namespaces ${lab.prefix}-*`);
    expect(text).toContain('- b [STAND-IN for a far service]');
    expect(text).toMatch(/- a\n(?: {4}.*\n)*? {4}addr: eth0@\S+ +UP +10\.9\.1\.2\/24/);
    expect(text).toContain('route: default via 10.9.1.1 dev eth0');
    expect(text).toContain('link a:eth0 <-> r:a (port of br0)');
  });

  it('refuses a namespace it did not make, and an agent outside its namespaces', () => {
    expect(() => lab.assertOwned(new Netns(`${lab.prefix}-elsewhere`))).toThrow(/refusing to touch .*-elsewhere: not a namespace of this lab/);
    expect(() => lab.assertOwned(new Netns('kr0000-a'))).toThrow(/refusing to touch kr0000-a/);
    expect(() => lab.ns('host')).toThrow(/has no namespace "host"/);
    expect(() => startAgent(lab, { role: 'host' })).toThrow(/has no namespace "host"/);
  });

  it('refuses a bad spec naming the field and the value, before making any namespace', async () => {
    const before = new Set(namespaces());
    await expect(buildLab({ name: 'bad', namespaces: { a: {} }, links: [['nope:eth0', 'a:eth0']] })).rejects.toThrow('links[0][0]: "nope:eth0" names no namespace of the lab (a)');
    await expect(buildLab({ name: 'bad', namespaces: { a: {}, b: {} }, links: [['a:eth0', 'b:eth0'], ['a:eth0', 'b:eth1']] })).rejects.toThrow('links[1][0]: interface a:eth0 is made twice');
    await expect(buildLab({ name: 'bad', namespaces: { a: {} }, ports: { 'a:br0': [] } })).rejects.toThrow('ports["a:br0"]: a has no bridge br0');
    await expect(buildLab({ name: 'bad', namespaces: { a: {} }, links: [['a:averyveryverylongname', 'a:x']] })).rejects.toThrow(/at most 15 characters/);
    // Other test runs come and go meanwhile: only a bad lab's own roles must not appear.
    expect(namespaces().filter((n) => /^kr[0-9a-f]+-(a|b)$/.test(n) && !before.has(n))).toEqual([]);
  });

  it('removes what a crashed run left (its pid marker names a dead process), and leaves a live run alone', async () => {
    // A run that made a namespace and its marker, then died by SIGKILL.
    const crashed = spawn('sh', ['-c', `ip netns add kr0dead-node && echo $$ > ${MARKER_DIR}/kr0dead.pid && echo made && exec sleep 60`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => crashed.stdout.once('data', () => resolve()));
    crashed.kill('SIGKILL');
    await new Promise<void>((resolve) => crashed.once('exit', () => resolve()));
    // A live run: this process.
    await run('ip', ['netns', 'add', 'kr0a11-node']);
    writeFileSync(join(MARKER_DIR, 'kr0a11.pid'), `${process.pid}\n`);
    try {
      expect(existsSync(netnsPath(new Netns('kr0dead-node')))).toBe(true);
      const removed = await sweepCrashedRuns();
      expect(removed).toEqual(['kr0dead-node']);
      expect(existsSync(join(MARKER_DIR, 'kr0dead.pid'))).toBe(false);
      expect(namespaces()).toContain('kr0a11-node');
      // A new lab sweeps too, before it makes anything.
      await run('ip', ['netns', 'add', 'kr0dead-node']);
      writeFileSync(join(MARKER_DIR, 'kr0dead.pid'), '999999999\n');
      const next = new NetnsLab();
      await next.add('x');
      await next.cleanup();
      await until('the crashed namespace gone', 5_000, () => !namespaces().includes('kr0dead-node'));
    } finally {
      await run('ip', ['netns', 'del', 'kr0a11-node']);
      await run('rm', ['-f', join(MARKER_DIR, 'kr0a11.pid'), join(MARKER_DIR, 'kr0dead.pid')]);
      await run('ip', ['netns', 'del', 'kr0dead-node']);
    }
  });
});
