/**
 * The example of docs/testing.md, run as written (root, network namespaces): a new real-network test in a few lines.
 */
import { ownedRoute, routesDir, routeYaml, runAgent, writeRoutes } from './agent.js';
import { useLab } from './jest.js';
import { flows } from './traffic.js';
import { until } from './wait.js';

const lab = useLab({
  name: 'a node, one gateway, a server',
  namespaces: {
    node: { addresses: { eth1: ['10.114.0.2/20'] } },
    gw: { forward: true, nat: { masquerade: 'eth0' }, count: { iif: 'eth1' }, addresses: { eth1: ['10.114.0.3/20'], eth0: ['192.0.2.1/24'] } },
    inet: { addresses: { eth0: ['192.0.2.80/24'] }, services: [{ name: 'echo', echo: { addresses: ['192.0.2.80'] } }] },
  },
  links: [['node:eth1', 'gw:eth1'], ['gw:eth0', 'inet:eth0']],
});

it('a Route to the server sends its flows through the gateway', async () => {
  const dir = routesDir(lab);
  writeRoutes(dir, 'r.yaml', routeYaml('r', ['192.0.2.0/24'], ['10.114.0.3']));
  await runAgent(lab, { routes: dir });
  await until('the route', 10_000, () => ownedRoute(lab.ns('node'), '192.0.2.0/24'));
  expect(await flows(lab.ns('node'), 'tcp', '192.0.2.80', 4)).toEqual(Array(4).fill('192.0.2.1'));
  expect((await lab.counters('gw')).flows).toBe(4);
});
