/**
 * A stand-in host description for `kroute plan --host FILE` (or inline YAML/JSON): the planner's HostFacts, written
 * by hand for a node the command does not run on. Every field is checked; a bad one is named with its value.
 */
import { fieldError, parseCidr, parseIp, type FieldError, type Result } from '../../core/index.js';
import type { HostDefaultRoute, HostFacts } from '../../core/plan/index.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const TOP = ['defaultV4', 'defaultV6', 'publicInterface', 'connected', 'dnsServers', 'controlPlaneAddresses', 'keepAddresses'];

function ips(v: unknown, path: string, errs: FieldError[], cidr = false): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    errs.push(fieldError(path, 'Invalid', 'must be a list', v));
    return [];
  }
  const out: string[] = [];
  v.forEach((x, i) => {
    const p = typeof x === 'string' ? (cidr ? parseCidr(x) : parseIp(x)) : undefined;
    if (!p?.ok) errs.push(fieldError(`${path}[${i}]`, 'Invalid', p ? p.reason : 'must be a string', x));
    else out.push(p.value.text);
  });
  return out;
}

function ipField(v: unknown, path: string, errs: FieldError[]): string | undefined {
  if (v === undefined) return undefined;
  const p = typeof v === 'string' ? parseIp(v) : undefined;
  if (!p?.ok) {
    errs.push(fieldError(path, 'Invalid', p ? p.reason : 'must be a string', v));
    return undefined;
  }
  return p.value.text;
}

function defaultRoute(v: unknown, path: string, errs: FieldError[]): HostDefaultRoute | undefined {
  if (v === undefined) return undefined;
  if (!isObj(v)) {
    errs.push(fieldError(path, 'Invalid', 'must be an object {gateway, dev}', v));
    return undefined;
  }
  if (typeof v.dev !== 'string' || v.dev === '') errs.push(fieldError(`${path}.dev`, 'Required', 'names the interface of the default route', v.dev));
  const gateway = ipField(v.gateway, `${path}.gateway`, errs);
  return typeof v.dev === 'string' ? { dev: v.dev, ...(gateway ? { gateway } : {}) } : undefined;
}

/** Checks a parsed host description; `extra` fills the control-plane and keep addresses it does not give. */
export function parseHostFacts(v: unknown, extra: { controlPlaneAddresses: readonly string[]; keepAddresses: readonly string[] }, path = 'host'): Result<HostFacts> {
  const errs: FieldError[] = [];
  if (!isObj(v)) return { ok: false, errors: [fieldError(path, 'Invalid', 'must be an object with ' + TOP.join(', '), v)] };
  for (const k of Object.keys(v)) if (!TOP.includes(k)) errs.push(fieldError(`${path}.${k}`, 'NotSupported', `is not a host field (${TOP.join(', ')})`));
  const defaultV4 = defaultRoute(v.defaultV4, `${path}.defaultV4`, errs);
  const defaultV6 = defaultRoute(v.defaultV6, `${path}.defaultV6`, errs);
  let publicInterface: HostFacts['publicInterface'];
  if (v.publicInterface !== undefined) {
    const p = v.publicInterface;
    if (!isObj(p) || typeof p.name !== 'string' || p.name === '') errs.push(fieldError(`${path}.publicInterface.name`, 'Required', 'names the public interface', isObj(p) ? p.name : p));
    else {
      const gatewayV4 = ipField(p.gatewayV4, `${path}.publicInterface.gatewayV4`, errs);
      const gatewayV6 = ipField(p.gatewayV6, `${path}.publicInterface.gatewayV6`, errs);
      publicInterface = {
        name: p.name, addresses: ips(p.addresses, `${path}.publicInterface.addresses`, errs),
        ...(gatewayV4 ? { gatewayV4 } : {}), ...(gatewayV6 ? { gatewayV6 } : {}),
      };
    }
  }
  const facts: HostFacts = {
    ...(defaultV4 ? { defaultV4 } : {}),
    ...(defaultV6 ? { defaultV6 } : {}),
    ...(publicInterface ? { publicInterface } : {}),
    connected: ips(v.connected, `${path}.connected`, errs, true),
    dnsServers: ips(v.dnsServers, `${path}.dnsServers`, errs),
    controlPlaneAddresses: [...new Set([...ips(v.controlPlaneAddresses, `${path}.controlPlaneAddresses`, errs), ...extra.controlPlaneAddresses])],
    keepAddresses: v.keepAddresses !== undefined ? ips(v.keepAddresses, `${path}.keepAddresses`, errs) : [...extra.keepAddresses],
  };
  return errs.length ? { ok: false, errors: errs } : { ok: true, value: facts };
}

/**
 * The host of `--host none`: nothing known (no default route, so an override plans no keep-routes and says so; no
 * connected networks known, so gateways are not checked for being on-link).
 */
export function noHost(extra: { controlPlaneAddresses: readonly string[]; keepAddresses: readonly string[] }): HostFacts {
  return { dnsServers: [], controlPlaneAddresses: [...extra.controlPlaneAddresses], keepAddresses: [...extra.keepAddresses] };
}
