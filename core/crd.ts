/**
 * The Route CustomResourceDefinition, generated from the same limits and rules as the core's validator, so that
 * the API server says no at admission to what `validateRoute` says no to.
 *
 * CEL needs Kubernetes 1.31+ (`isCIDR`, `isIP`, `ip()`, `cidr()`); `celValidation: false` leaves only the
 * patterns, for older servers. Cross-field rules are guarded with isIP/isCIDR because `ip()` on a bad string
 * fails the whole rule with a parse error instead of the rule's message.
 */
import { METADATA_ADDRESS, NEVER_ROUTED } from './ip.js';
import { LIMITS } from './limits.js';
import { commonLabels, KROUTE_VERSION, type Manifest } from './manifest.js';
import { NODE_SELECTOR_OPERATORS, ROUTE_GROUP, ROUTE_KIND, ROUTE_NODE_STATES, ROUTE_PLURAL, ROUTE_SHORT_NAME, ROUTE_VERSION } from './route.js';
import { NODE_NAME_FIELD } from './validate.js';

/** Options of the generated CRD. */
export interface CrdOptions {
  /**
   * Emit CEL validation rules (needs Kubernetes 1.31 or newer).
   * @default true
   */
  readonly celValidation?: boolean;
  /** Extra labels on the CRD. @default {} */
  readonly labels?: Readonly<Record<string, string>>;
}

type Schema = Record<string, unknown>;

/** A floor for older servers: the shape of a CIDR, not its validity (CEL decides that). */
const CIDR_PATTERN = '^([0-9]{1,3}(\\.[0-9]{1,3}){3}|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)/[0-9]{1,3}$';
const IP_PATTERN = '^([0-9]{1,3}(\\.[0-9]{1,3}){3}|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)$';

function rules(cel: boolean, list: ReadonlyArray<Schema>): Schema {
  return cel && list.length ? { 'x-kubernetes-validations': list } : {};
}

function requirementSchema(cel: boolean, isField: boolean): Schema {
  return {
    type: 'object',
    required: ['key', 'operator'],
    properties: {
      key: isField
        ? { type: 'string', enum: [NODE_NAME_FIELD], description: 'Only metadata.name is supported.' }
        : { type: 'string', minLength: 1, maxLength: LIMITS.labelKeyLength, description: 'Label key.' },
      operator: {
        type: 'string',
        enum: isField ? ['In', 'NotIn'] : [...NODE_SELECTOR_OPERATORS],
        description: isField ? 'In or NotIn: the node name is (not) one of values.' : 'In, NotIn, Exists or DoesNotExist: how the label relates to values.',
      },
      values: {
        type: 'array',
        description: 'Values for In and NotIn (at least one); empty for Exists and DoesNotExist.',
        maxItems: LIMITS.valuesPerRequirement,
        items: { type: 'string', maxLength: LIMITS.labelValueLength },
        'x-kubernetes-list-type': 'atomic',
      },
    },
    ...rules(cel, [
      {
        rule: "!(self.operator in ['In', 'NotIn']) || (has(self.values) && size(self.values) > 0)",
        message: 'values must have at least one value when the operator is In or NotIn',
        fieldPath: '.values',
      },
      {
        rule: "!(self.operator in ['Exists', 'DoesNotExist']) || !has(self.values) || size(self.values) == 0",
        message: 'values must be empty when the operator is Exists or DoesNotExist',
        fieldPath: '.values',
      },
    ]),
  };
}

function nodeSelectorSchema(cel: boolean): Schema {
  const reqList = (isField: boolean): Schema => ({
    type: 'array',
    maxItems: LIMITS.requirementsPerTerm,
    items: requirementSchema(cel, isField),
    'x-kubernetes-list-type': 'atomic',
  });
  return {
    type: 'object',
    description: 'core/v1 NodeSelector: terms are ORed, requirements within a term ANDed. All nodes when absent.',
    required: ['nodeSelectorTerms'],
    properties: {
      nodeSelectorTerms: {
        type: 'array',
        description: 'Terms, ORed: a node that matches any term is selected.',
        minItems: 1,
        maxItems: LIMITS.selectorTerms,
        'x-kubernetes-list-type': 'atomic',
        items: {
          type: 'object',
          description: 'Requirements, ANDed: a node must match every one.',
          properties: {
            matchExpressions: { ...reqList(false), description: 'Requirements on the node\'s labels.' },
            matchFields: { ...reqList(true), description: 'Requirements on the node\'s fields (only metadata.name).' },
          },
          ...rules(cel, [
            {
              rule: '(has(self.matchExpressions) && size(self.matchExpressions) > 0) || (has(self.matchFields) && size(self.matchFields) > 0)',
              message: 'a node selector term needs at least one of matchExpressions or matchFields (an empty term matches no node)',
            },
          ]),
        },
      },
    },
  };
}

/**
 * One rule per range that can never carry unicast (core/ip.ts NEVER_ROUTED, docs/safety.md): a destination entirely
 * inside it is refused by every node, so the API server refuses it first, naming the item (`spec.destinations[i]`).
 * The metadata service's /32 is link-local but has its own rule, decided per node by the planner.
 */
function neverRoutedRules(): Schema[] {
  return NEVER_ROUTED.map(({ cidr, what }) => {
    const family = cidr.includes(':') ? 6 : 4;
    const metadata = cidr === '169.254.0.0/16' ? ` || cidr(self).masked() == cidr('${METADATA_ADDRESS}/32')` : '';
    return {
      rule: `!isCIDR(self) || cidr(self).ip().family() != ${family} || !cidr('${cidr}').containsCIDR(cidr(self))${metadata}`,
      message: `cannot be routed through a gateway on any node: it is ${what}`,
    };
  });
}

function specSchema(cel: boolean): Schema {
  const sameFamily = 'size(self.gateways) == 0 || !isIP(self.gateways[0])';
  return {
    type: 'object',
    description: 'Desired routes: the destinations, through the gateways, on the nodes the nodeSelector picks.',
    required: ['destinations', 'gateways'],
    properties: {
      destinations: {
        type: 'array',
        description: 'Destination CIDRs. 0.0.0.0/0 or ::/0 overrides the default route. Host bits are ignored.',
        minItems: 1,
        maxItems: LIMITS.destinations,
        'x-kubernetes-list-type': 'set',
        items: {
          type: 'string',
          maxLength: LIMITS.cidrLength,
          pattern: CIDR_PATTERN,
          ...rules(cel, [{ rule: 'isCIDR(self)', message: 'must be a CIDR such as 10.0.0.0/8 or 2001:db8::/32' }, ...neverRoutedRules()]),
        },
      },
      gateways: {
        type: 'array',
        description: 'Next-hop addresses. Several make one equal-cost multipath route.',
        minItems: 1,
        maxItems: LIMITS.gateways,
        'x-kubernetes-list-type': 'set',
        items: {
          type: 'string',
          maxLength: LIMITS.ipLength,
          pattern: IP_PATTERN,
          ...rules(cel, [
            { rule: 'isIP(self)', message: 'must be an IPv4 or IPv6 address' },
            {
              rule: '!isIP(self) || !(ip(self).isUnspecified() || ip(self).isLoopback())',
              message: 'cannot be a gateway: it is an unspecified or loopback address',
            },
            {
              rule: "!isIP(self) || ip(self).family() != 4 || !(cidr('224.0.0.0/4').containsIP(self) || self == '255.255.255.255')",
              message: 'cannot be a gateway: it is a multicast or broadcast address',
            },
            {
              rule: "!isIP(self) || ip(self).family() != 6 || !cidr('ff00::/8').containsIP(self)",
              message: 'cannot be a gateway: it is a multicast or broadcast address',
            },
          ]),
        },
      },
      nodeSelector: nodeSelectorSchema(cel),
    },
    ...rules(cel, [
      {
        rule: `${sameFamily} || self.gateways.all(g, !isIP(g) || ip(g).family() == ip(self.gateways[0]).family())`,
        message: 'all gateways must be of one address family',
        fieldPath: '.gateways',
      },
      {
        rule: `${sameFamily} || self.destinations.all(d, !isCIDR(d) || cidr(d).ip().family() == ip(self.gateways[0]).family())`,
        message: 'destinations must be of the same address family as the gateways',
        fieldPath: '.destinations',
      },
      {
        rule: 'self.destinations.all(d, !isCIDR(d) || self.destinations.exists_one(e, isCIDR(e) && cidr(e).masked() == cidr(d).masked()))',
        message: 'destinations must not list the same prefix twice (host bits are ignored)',
        fieldPath: '.destinations',
      },
    ]),
  };
}

function statusSchema(): Schema {
  return {
    type: 'object',
    description: 'Written by the agents: each node writes only its own entry (server-side apply, one field manager per node).',
    properties: {
      appliedNodes: { type: 'integer', description: 'Nodes that have applied the route; written by one elected agent.' },
      selectedNodes: { type: 'integer', description: 'Nodes the route selects; written by one elected agent.' },
      nodes: {
        type: 'array',
        description: 'One entry per node the route concerns, each written by that node\'s agent.',
        maxItems: 5000,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['nodeName'],
        items: {
          type: 'object',
          required: ['nodeName', 'state'],
          properties: {
            nodeName: { type: 'string', maxLength: 253, description: 'The node this entry is about.' },
            state: {
              type: 'string', enum: [...ROUTE_NODE_STATES],
              description: 'Applied: in the kernel; Invalid: the spec was refused; Failed: not in the kernel (see reason); Removing: being removed; Degraded: in the kernel with some gateways down.',
            },
            reason: { type: 'string', maxLength: 128, description: 'One CamelCase word for the state, e.g. Programmed, AllGatewaysDown, DestinationConflict, KernelError.' },
            message: { type: 'string', maxLength: 4096, description: 'What happened, for people.' },
            activeGateways: {
              type: 'array', maxItems: LIMITS.gateways, items: { type: 'string', maxLength: LIMITS.ipLength },
              description: 'Gateways in the kernel route now (the ones that answer probes).',
            },
            observedGeneration: { type: 'integer', format: 'int64', description: 'The metadata.generation this entry describes.' },
            lastTransitionTime: { type: 'string', format: 'date-time', description: 'When state last changed.' },
          },
        },
      },
      conditions: {
        type: 'array',
        description: 'Conditions over all nodes; Ready is True when every selected node applied the route.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
        items: {
          type: 'object',
          required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
          properties: {
            type: { type: 'string', maxLength: 316, description: 'The condition type, e.g. Ready.' },
            status: { type: 'string', enum: ['True', 'False', 'Unknown'], description: 'True, False or Unknown.' },
            reason: { type: 'string', maxLength: 1024, description: 'One CamelCase word for the last transition.' },
            message: { type: 'string', maxLength: 32768, description: 'What happened, for people.' },
            lastTransitionTime: { type: 'string', format: 'date-time', description: 'When status last changed.' },
            observedGeneration: { type: 'integer', format: 'int64', minimum: 0, description: 'The metadata.generation the condition describes.' },
          },
        },
      },
    },
  };
}

/** The OpenAPI v3 schema of a Route (spec and status), as the CRD carries it. */
export function routeOpenApiSchema(opts: CrdOptions = {}): Schema {
  const cel = opts.celValidation ?? true;
  return {
    type: 'object',
    description: 'Route: kernel routes on the nodes a nodeSelector picks.',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string', description: 'networking.doks.digitalocean.com/v1alpha1.' },
      kind: { type: 'string', description: 'Route.' },
      // The API server allows nothing but the type here (not even a description): kubectl explain shows ObjectMeta's.
      metadata: { type: 'object' },
      spec: specSchema(cel),
      status: statusSchema(),
    },
  };
}

/** The Route CRD (apiextensions.k8s.io/v1), cluster-scoped, with a status subresource and printer columns. */
export function routeCrd(opts: CrdOptions = {}): Manifest {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${ROUTE_PLURAL}.${ROUTE_GROUP}`,
      labels: { ...commonLabels('crd', KROUTE_VERSION), ...(opts.labels ?? {}) },
    },
    spec: {
      group: ROUTE_GROUP,
      scope: 'Cluster',
      names: {
        kind: ROUTE_KIND,
        listKind: `${ROUTE_KIND}List`,
        plural: ROUTE_PLURAL,
        singular: 'route',
        shortNames: [ROUTE_SHORT_NAME],
        categories: ['kroute'],
      },
      versions: [
        {
          name: ROUTE_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Destinations', type: 'string', jsonPath: '.spec.destinations' },
            { name: 'Gateways', type: 'string', jsonPath: '.spec.gateways' },
            { name: 'Applied', type: 'integer', jsonPath: '.status.appliedNodes', description: 'Nodes that applied the route' },
            { name: 'Selected', type: 'integer', jsonPath: '.status.selectedNodes', description: 'Nodes the route selects', priority: 1 },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Every selected node applied the route' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: { openAPIV3Schema: routeOpenApiSchema(opts) },
        },
      ],
    },
  };
}
