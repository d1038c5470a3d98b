/**
 * Size limits of a Route. The API server needs them to bound the cost of CEL rules (without `maxItems` and
 * `maxLength` the CRD is refused); the same numbers bound the core's validator so that both say no together.
 */
export const LIMITS = {
  /** Destinations per Route. Route more prefixes with several Routes. */
  destinations: 256,
  /** Gateways per Route; the kernel's multipath limit is far higher, but 16 next hops is already unusual. */
  gateways: 16,
  /** Node selector terms per Route. */
  selectorTerms: 16,
  /** Requirements per term (matchExpressions or matchFields). */
  requirementsPerTerm: 32,
  /** Values per requirement. */
  valuesPerRequirement: 64,
  /** Longest CIDR text: a full IPv6 address and `/128`. */
  cidrLength: 43,
  /** Longest IP text: a full IPv6 address. */
  ipLength: 39,
  /** Label keys: 253 prefix + `/` + 63 name. */
  labelKeyLength: 317,
  /** Label values; also node names in matchFields (DNS subdomain). */
  labelValueLength: 253,
} as const;
