/**
 * Validation and normalisation of Routes. One validator serves construct props, the Pulumi components, the agent
 * and the tests; the CRD's schema and CEL rules say no to the same inputs at admission.
 */
import { fieldError, type FieldError, type Result } from './errors.js';
import { coversWholeFamily, isMulticastOrBroadcast, neverRoutedReason, parseCidr, parseIp, isUnspecified, isLoopback, type Cidr, type IpAddress, type IpFamily } from './ip.js';
import { LIMITS } from './limits.js';
import {
  NODE_SELECTOR_OPERATORS,
  ROUTE_API_VERSION,
  ROUTE_KIND,
  type NodeSelector,
  type NodeSelectorRequirement,
  type NodeSelectorTerm,
  type RouteSpec,
} from './route.js';

/** A Route after validation: parsed, normalised, ready for the planner. */
export interface NormalizedRoute {
  readonly name: string;
  readonly family: IpFamily;
  /** Destinations with host bits cleared, in the order given. */
  readonly destinations: readonly Cidr[];
  readonly gateways: readonly IpAddress[];
  readonly nodeSelector?: NodeSelector;
  /**
   * True when the destinations together cover the whole address space (`0.0.0.0/0`, the `/1` pair, four `/2`
   * quarters, ...): the Route takes over the default route and gets every override protection (docs/safety.md).
   */
  readonly overridesDefault: boolean;
}

/** The only field key `matchFields` supports, as in DigitalOcean's agent and core/v1 node affinity. */
export const NODE_NAME_FIELD = 'metadata.name';

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function unknownFields(o: Obj, known: readonly string[], path: string, errs: FieldError[]): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) {
      errs.push(fieldError(`${path}.${k}`, 'NotSupported', `is not a known field; known fields are ${known.join(', ')}`));
    }
  }
}

/** True when `name` is a DNS subdomain (RFC 1123), as Kubernetes requires of object names. */
export function isDnsSubdomain(name: string): boolean {
  return name.length > 0 && name.length <= 253 && name.split('.').every((l) => DNS_LABEL.test(l));
}

/** Checks a label key (`[prefix/]name`); returns why not, or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && !isDnsSubdomain(prefix)) return 'has a prefix that is not a DNS subdomain';
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    return 'is not a valid label key: the name part must be 1 to 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric';
  }
  return undefined;
}

/** Checks a label value; returns why not, or undefined. */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !LABEL_NAME.test(value)) {
    return 'is not a valid label value: at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric';
  }
  return undefined;
}

function stringList(v: unknown, path: string, what: string, max: number, errs: FieldError[]): string[] | undefined {
  if (v === undefined || v === null) {
    errs.push(fieldError(path, 'Required', `is required: give at least one ${what}`));
    return undefined;
  }
  if (!Array.isArray(v)) {
    errs.push(fieldError(path, 'Invalid', `must be a list of ${what}s`, v));
    return undefined;
  }
  if (v.length === 0) {
    errs.push(fieldError(path, 'Required', `must not be empty: give at least one ${what}`));
    return undefined;
  }
  if (v.length > max) errs.push(fieldError(path, 'TooMany', `has ${v.length} items; at most ${max} are allowed`));
  const out: string[] = [];
  v.forEach((item, i) => {
    if (typeof item !== 'string') errs.push(fieldError(`${path}[${i}]`, 'Invalid', `must be a string`, item));
    else out.push(item);
  });
  return out.length === v.length ? out : undefined;
}

function validateRequirement(r: unknown, path: string, isField: boolean, errs: FieldError[]): void {
  if (!isObj(r)) {
    errs.push(fieldError(path, 'Invalid', 'must be an object with key, operator and values', r));
    return;
  }
  unknownFields(r, ['key', 'operator', 'values'], path, errs);
  const { key, operator, values } = r;
  if (typeof key !== 'string' || key === '') {
    errs.push(fieldError(`${path}.key`, 'Required', 'is required'));
  } else if (isField) {
    if (key !== NODE_NAME_FIELD) {
      errs.push(fieldError(`${path}.key`, 'NotSupported', `is not supported in matchFields; the only field key is "${NODE_NAME_FIELD}"`, key));
    }
  } else {
    const p = labelKeyProblem(key);
    if (p) errs.push(fieldError(`${path}.key`, 'Invalid', p, key));
  }
  const allowed: readonly string[] = isField ? ['In', 'NotIn'] : NODE_SELECTOR_OPERATORS;
  if (operator === undefined) {
    errs.push(fieldError(`${path}.operator`, 'Required', `is required: one of ${allowed.join(', ')}`));
    return;
  }
  if (typeof operator !== 'string' || !allowed.includes(operator)) {
    errs.push(fieldError(`${path}.operator`, 'NotSupported', `is not a supported operator: use one of ${allowed.join(', ')}`, operator));
    return;
  }
  const needsValues = operator === 'In' || operator === 'NotIn';
  if (needsValues) {
    if (!Array.isArray(values) || values.length === 0) {
      errs.push(fieldError(`${path}.values`, 'Required', `must have at least one value when the operator is ${operator}`));
      return;
    }
    if (values.length > LIMITS.valuesPerRequirement) {
      errs.push(fieldError(`${path}.values`, 'TooMany', `has ${values.length} items; at most ${LIMITS.valuesPerRequirement} are allowed`));
    }
    const seen = new Set<string>();
    values.forEach((v: unknown, i: number) => {
      const vp = `${path}.values[${i}]`;
      if (typeof v !== 'string') {
        errs.push(fieldError(vp, 'Invalid', 'must be a string', v));
        return;
      }
      if (seen.has(v)) errs.push(fieldError(vp, 'Duplicate', 'is listed twice', v));
      seen.add(v);
      const p = isField ? (isDnsSubdomain(v) ? undefined : 'is not a valid node name (DNS subdomain)') : labelValueProblem(v);
      if (p) errs.push(fieldError(vp, 'Invalid', p, v));
    });
  } else if (values !== undefined && !(Array.isArray(values) && values.length === 0)) {
    errs.push(fieldError(`${path}.values`, 'Forbidden', `must be empty when the operator is ${operator}`, values));
  }
}

function validateTerm(t: unknown, path: string, errs: FieldError[]): void {
  if (!isObj(t)) {
    errs.push(fieldError(path, 'Invalid', 'must be an object with matchExpressions or matchFields', t));
    return;
  }
  unknownFields(t, ['matchExpressions', 'matchFields'], path, errs);
  const exprs = t.matchExpressions;
  const fields = t.matchFields;
  const count = (Array.isArray(exprs) ? exprs.length : 0) + (Array.isArray(fields) ? fields.length : 0);
  if (count === 0 && (exprs === undefined || Array.isArray(exprs)) && (fields === undefined || Array.isArray(fields))) {
    errs.push(fieldError(path, 'Required', 'needs at least one of matchExpressions or matchFields (an empty term matches no node)'));
  }
  for (const [name, list, isField] of [['matchExpressions', exprs, false], ['matchFields', fields, true]] as const) {
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      errs.push(fieldError(`${path}.${name}`, 'Invalid', 'must be a list', list));
      continue;
    }
    if (list.length > LIMITS.requirementsPerTerm) {
      errs.push(fieldError(`${path}.${name}`, 'TooMany', `has ${list.length} items; at most ${LIMITS.requirementsPerTerm} are allowed`));
    }
    list.forEach((r: unknown, i: number) => validateRequirement(r, `${path}.${name}[${i}]`, isField, errs));
  }
}

/** Validates a core/v1 NodeSelector as kroute supports it. */
export function validateNodeSelector(sel: unknown, path: string, errs: FieldError[]): void {
  if (!isObj(sel)) {
    errs.push(fieldError(path, 'Invalid', 'must be an object with nodeSelectorTerms', sel));
    return;
  }
  unknownFields(sel, ['nodeSelectorTerms'], path, errs);
  const terms = sel.nodeSelectorTerms;
  if (!Array.isArray(terms) || terms.length === 0) {
    errs.push(fieldError(`${path}.nodeSelectorTerms`, 'Required', 'must have at least one term (terms are ORed)'));
    return;
  }
  if (terms.length > LIMITS.selectorTerms) {
    errs.push(fieldError(`${path}.nodeSelectorTerms`, 'TooMany', `has ${terms.length} items; at most ${LIMITS.selectorTerms} are allowed`));
  }
  terms.forEach((t: unknown, i: number) => validateTerm(t, `${path}.nodeSelectorTerms[${i}]`, errs));
}

/** Validates and normalises a Route spec. `name` is carried into the result for the planner. */
export function validateRouteSpec(spec: unknown, name = '', path = 'spec'): Result<NormalizedRoute> {
  const errs: FieldError[] = [];
  if (!isObj(spec)) {
    return { ok: false, errors: [fieldError(path, 'Required', 'is required: an object with destinations and gateways')] };
  }
  unknownFields(spec, ['destinations', 'gateways', 'nodeSelector'], path, errs);

  const destinations: Cidr[] = [];
  const dTexts = stringList(spec.destinations, `${path}.destinations`, 'destination CIDR', LIMITS.destinations, errs);
  const seenDest = new Map<string, number>();
  dTexts?.forEach((t, i) => {
    const p = `${path}.destinations[${i}]`;
    const c = parseCidr(t);
    if (!c.ok) {
      errs.push(fieldError(p, 'Invalid', c.reason, t));
      return;
    }
    const first = seenDest.get(c.value.text);
    if (first !== undefined) {
      errs.push(fieldError(p, 'Duplicate', `is the same prefix as destinations[${first}] (${c.value.text})`, t));
      return;
    }
    const never = neverRoutedReason(c.value);
    if (never) {
      errs.push(fieldError(p, 'Invalid', `cannot be routed through a gateway on any node: ${c.value.text} is ${never}`, t));
      return;
    }
    seenDest.set(c.value.text, i);
    destinations.push(c.value);
  });

  const gateways: IpAddress[] = [];
  const gTexts = stringList(spec.gateways, `${path}.gateways`, 'gateway IP address', LIMITS.gateways, errs);
  const seenGw = new Map<string, number>();
  gTexts?.forEach((t, i) => {
    const p = `${path}.gateways[${i}]`;
    const ip = parseIp(t);
    if (!ip.ok) {
      errs.push(fieldError(p, 'Invalid', ip.reason, t));
      return;
    }
    if (isUnspecified(ip.value) || isLoopback(ip.value)) {
      errs.push(fieldError(p, 'Invalid', 'cannot be a gateway: it is an unspecified or loopback address', t));
      return;
    }
    if (isMulticastOrBroadcast(ip.value)) {
      errs.push(fieldError(p, 'Invalid', 'cannot be a gateway: it is a multicast or broadcast address', t));
      return;
    }
    const first = seenGw.get(ip.value.text);
    if (first !== undefined) {
      errs.push(fieldError(p, 'Duplicate', `is the same address as gateways[${first}]`, t));
      return;
    }
    seenGw.set(ip.value.text, i);
    gateways.push(ip.value);
  });

  // One family per Route: a next hop of the other family cannot carry the destination's packets.
  const family: IpFamily | undefined = gateways[0]?.family ?? destinations[0]?.family;
  if (family !== undefined) {
    dTexts?.forEach((t, i) => {
      const c = parseCidr(t);
      if (c.ok && c.value.family !== family) {
        errs.push(fieldError(`${path}.destinations[${i}]`, 'Invalid', `is IPv${c.value.family} but the gateways are IPv${family}; use one address family per Route`, t));
      }
    });
    gTexts?.forEach((t, i) => {
      const ip = parseIp(t);
      if (ip.ok && ip.value.family !== family) {
        errs.push(fieldError(`${path}.gateways[${i}]`, 'Invalid', `is IPv${ip.value.family} but gateways[0] is IPv${family}; use one address family per Route`, t));
      }
    });
  }

  if (spec.nodeSelector !== undefined && spec.nodeSelector !== null) {
    validateNodeSelector(spec.nodeSelector, `${path}.nodeSelector`, errs);
  }
  if (errs.length > 0 || family === undefined) return { ok: false, errors: errs };
  const nodeSelector = spec.nodeSelector ? (spec.nodeSelector as NodeSelector) : undefined;
  return {
    ok: true,
    value: {
      name,
      family,
      destinations,
      gateways,
      ...(nodeSelector ? { nodeSelector } : {}),
      overridesDefault: coversWholeFamily(destinations, family),
    },
  };
}

/** Validates a whole Route object (apiVersion, kind, metadata.name, spec). */
export function validateRoute(obj: unknown): Result<NormalizedRoute> {
  const errs: FieldError[] = [];
  if (!isObj(obj)) return { ok: false, errors: [fieldError('', 'Invalid', 'must be a Route object', obj)] };
  if (obj.apiVersion !== ROUTE_API_VERSION) errs.push(fieldError('apiVersion', 'Invalid', `must be "${ROUTE_API_VERSION}"`, obj.apiVersion));
  if (obj.kind !== ROUTE_KIND) errs.push(fieldError('kind', 'Invalid', `must be "${ROUTE_KIND}"`, obj.kind));
  const meta = obj.metadata;
  const name = isObj(meta) && typeof meta.name === 'string' ? meta.name : '';
  if (name === '') errs.push(fieldError('metadata.name', 'Required', 'is required'));
  else if (!isDnsSubdomain(name)) errs.push(fieldError('metadata.name', 'Invalid', 'is not a valid object name: lower-case letters, digits, "-" and "."', name));
  const r = validateRouteSpec(obj.spec, name);
  if (!r.ok) return { ok: false, errors: [...errs, ...r.errors] };
  return errs.length ? { ok: false, errors: errs } : r;
}

/** The spec as kroute writes it: destinations and gateways in canonical form (e.g. `1.2.3.4/5` becomes `0.0.0.0/5`). */
export function canonicalSpec(r: NormalizedRoute): RouteSpec {
  return {
    destinations: r.destinations.map((d) => d.text),
    gateways: r.gateways.map((g) => g.text),
    ...(r.nodeSelector ? { nodeSelector: r.nodeSelector } : {}),
  };
}

export type { NodeSelectorTerm, NodeSelectorRequirement };
