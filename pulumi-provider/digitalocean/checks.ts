/** Checks of the DigitalOcean components' args, done before any resource is created; errors are the core's FieldErrors. */
import * as pulumi from '@pulumi/pulumi';
import { cidrsOverlap, fieldError, LIMITS, parseCidr, parseIp, type FieldError } from '../../core/index.js';
import { ComponentValidationError, knownNow, lateChecked } from '../errors.js';

/** Reserved IPs an account may hold by default (https://docs.digitalocean.com/products/networking/reserved-ips/details/limits/). */
export const DEFAULT_RESERVED_IP_QUOTA = 3;
/** Sizes a VPC NAT gateway accepts (units of about 25 Mbps and 100 GiB a month each). */
export const NAT_GATEWAY_SIZES = { min: 1, max: 16 } as const;

/** Errors for an integer that must lie in [min, max]. */
export function intInRange(field: string, v: number | undefined, min: number, max: number, why: string): FieldError[] {
  if (v === undefined) return [];
  return Number.isInteger(v) && v >= min && v <= max ? [] : [fieldError(field, 'Invalid', `must be an integer from ${min} to ${max}: ${why}`, v)];
}

/** Errors for a private IPv4 range (the VPC). */
export function vpcRangeErrors(field: string, range: string | undefined): FieldError[] {
  if (range === undefined) return [];
  const c = parseCidr(range);
  if (!c.ok) return [fieldError(field, 'Invalid', c.reason, range)];
  if (c.value.family !== 4) return [fieldError(field, 'Invalid', 'must be an IPv4 range (DigitalOcean VPCs are IPv4)', range)];
  const [a, b] = c.value.address.bytes;
  const rfc1918 = a === 10 || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168);
  return rfc1918 ? [] : [fieldError(field, 'Invalid', 'must be a private (RFC 1918) range such as 10.10.0.0/16', range)];
}

/** Errors for ranges that overlap one another; each pair is reported once, naming both fields. */
export function overlapErrors(ranges: ReadonlyArray<{ field: string; value: string | undefined }>): FieldError[] {
  const parsed = ranges.flatMap((r) => {
    if (r.value === undefined) return [];
    const c = parseCidr(r.value);
    return c.ok ? [{ ...r, cidr: c.value }] : [];
  });
  const errs: FieldError[] = [];
  parsed.forEach((a, i) =>
    parsed.slice(i + 1).forEach((b) => {
      if (cidrsOverlap(a.cidr, b.cidr)) errs.push(fieldError(b.field, 'Invalid', `overlaps ${a.field} (${a.value}): the ranges must be disjoint`, b.value));
    }),
  );
  return errs;
}

/** Errors for a list of IPv4 addresses (Reserved IPs, bring-your-own egress IPs). */
export function ipv4ListErrors(field: string, ips: readonly string[] | undefined): FieldError[] {
  return (ips ?? []).flatMap((ip, i) => {
    const p = parseIp(ip);
    if (!p.ok) return [fieldError(`${field}[${i}]`, 'Invalid', p.reason, ip)];
    return p.value.family === 4 ? [] : [fieldError(`${field}[${i}]`, 'Invalid', 'must be an IPv4 address', ip)];
  });
}

/** Errors for a gateway count: at least one, at most the Route's gateway limit. */
export function gatewayCountErrors(field: string, count: number): FieldError[] {
  return intInRange(field, count, 1, LIMITS.gateways, 'a static egress needs at least one gateway, and a Route holds at most ' + LIMITS.gateways);
}

/**
 * The VPC's region must be the component's region. Known now: checked at once. An Output: checked inside
 * apply(), and the returned VPC id carries the check, so the first resource that uses it fails the deployment
 * with a ComponentValidationError naming the component.
 */
export function regionChecked(
  subject: string,
  resource: pulumi.ComponentResource,
  region: string,
  vpcUuid: pulumi.Input<string>,
  vpcRegion: pulumi.Input<string> | undefined,
): { errors: FieldError[]; vpcUuid: pulumi.Input<string> } {
  const mismatch = (r: string) => fieldError('args.vpcRegion', 'Invalid', `is not the region of this component (${region}): a VPC and what it routes through must be in one region`, r);
  if (vpcRegion === undefined) return { errors: [], vpcUuid };
  const now = knownNow(vpcRegion);
  if (now !== undefined) return { errors: now === region ? [] : [mismatch(now)], vpcUuid };
  return {
    errors: [],
    vpcUuid: lateChecked(resource, pulumi.all([pulumi.output(vpcUuid), pulumi.output(vpcRegion)]).apply(([id, r]) => {
      if (r !== region) throw new ComponentValidationError(subject, [mismatch(r)], resource);
      return id;
    })),
  };
}
