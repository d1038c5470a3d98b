/**
 * Turns the core's plain manifests into typed `@pulumi/kubernetes` resources. The objects themselves are never
 * written here: they come whole from the core (`routeCrd()`, `agentManifests()`), the same objects the cdk8s face
 * synthesizes. Typed resources (not `yaml.v2.ConfigGroup`, a remote component whose children never reach the
 * runtime mocks) keep every object visible to `pulumi preview` and to the tests.
 */
import * as pulumi from '@pulumi/pulumi';
import * as k8s from '@pulumi/kubernetes';
import type { Manifest } from '../core/index.js';

/** Child-name suffix of each kind: children are named `${parent}-${suffix}` (a contract: renaming needs an alias). */
export const CHILD_SUFFIX: Readonly<Record<string, string>> = {
  Namespace: 'namespace',
  CustomResourceDefinition: 'crd',
  ServiceAccount: 'service-account',
  ClusterRole: 'cluster-role',
  ClusterRoleBinding: 'cluster-role-binding',
  Role: 'role',
  RoleBinding: 'role-binding',
  ValidatingAdmissionPolicy: 'node-restriction-policy',
  ValidatingAdmissionPolicyBinding: 'node-restriction-binding',
  DaemonSet: 'daemon-set',
  PodMonitor: 'pod-monitor',
  Deployment: 'deployment',
};

/** The Pulumi name of the child that holds manifest `m` under a component named `parent`. */
export function childName(parent: string, m: Manifest): string {
  const suffix = CHILD_SUFFIX[m.kind];
  if (suffix === undefined) throw new Error(`kroute: no typed Pulumi resource for kind ${m.kind}`);
  return `${parent}-${suffix}`;
}

/** Creates the typed resource for one core manifest, passing the object through unchanged. */
export function manifestResource(parent: string, m: Manifest, opts: pulumi.CustomResourceOptions): pulumi.CustomResource {
  const name = childName(parent, m);
  switch (m.kind) {
    case 'Namespace':
      return new k8s.core.v1.Namespace(name, m as unknown as k8s.core.v1.NamespaceArgs, opts);
    case 'CustomResourceDefinition':
      return new k8s.apiextensions.v1.CustomResourceDefinition(name, m as unknown as k8s.apiextensions.v1.CustomResourceDefinitionArgs, opts);
    case 'ServiceAccount':
      return new k8s.core.v1.ServiceAccount(name, m as unknown as k8s.core.v1.ServiceAccountArgs, opts);
    case 'ClusterRole':
      return new k8s.rbac.v1.ClusterRole(name, m as unknown as k8s.rbac.v1.ClusterRoleArgs, opts);
    case 'ClusterRoleBinding':
      return new k8s.rbac.v1.ClusterRoleBinding(name, m as unknown as k8s.rbac.v1.ClusterRoleBindingArgs, opts);
    case 'Role':
      return new k8s.rbac.v1.Role(name, m as unknown as k8s.rbac.v1.RoleArgs, opts);
    case 'RoleBinding':
      return new k8s.rbac.v1.RoleBinding(name, m as unknown as k8s.rbac.v1.RoleBindingArgs, opts);
    case 'ValidatingAdmissionPolicy':
      return new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(name, m as unknown as k8s.admissionregistration.v1.ValidatingAdmissionPolicyArgs, opts);
    case 'ValidatingAdmissionPolicyBinding':
      return new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(name, m as unknown as k8s.admissionregistration.v1.ValidatingAdmissionPolicyBindingArgs, opts);
    case 'DaemonSet':
      return new k8s.apps.v1.DaemonSet(name, m as unknown as k8s.apps.v1.DaemonSetArgs, opts);
    case 'PodMonitor':
      // The Prometheus Operator's kind: no typed class in @pulumi/kubernetes, the generic custom resource.
      return new k8s.apiextensions.CustomResource(name, m as unknown as k8s.apiextensions.CustomResourceArgs, opts);
    case 'Deployment':
      return new k8s.apps.v1.Deployment(name, m as unknown as k8s.apps.v1.DeploymentArgs, opts);
    default:
      throw new Error(`kroute: no typed Pulumi resource for kind ${m.kind}`);
  }
}
