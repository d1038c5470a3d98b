/**
 * Schema checks for synthesized objects: Kubernetes' own OpenAPI schemas (as published in kubernetes-models,
 * generated from the upstream spec) for built-in kinds, and kroute's CRD schema for Route objects.
 */
import AjvModule from 'ajv';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ValidatingAdmissionPolicy } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
import { ValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { routeOpenApiSchema, ROUTE_API_VERSION, ROUTE_KIND } from '../core/index.js';

interface Validatable {
  validate(): void;
}
type Model = new (data: never) => Validatable;

const MODELS: Record<string, Model> = {
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition as unknown as Model,
  'apps/v1/DaemonSet': DaemonSet as unknown as Model,
  'v1/Namespace': Namespace as unknown as Model,
  'v1/ServiceAccount': ServiceAccount as unknown as Model,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole as unknown as Model,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding as unknown as Model,
  'rbac.authorization.k8s.io/v1/Role': Role as unknown as Model,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding as unknown as Model,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': ValidatingAdmissionPolicy as unknown as Model,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': ValidatingAdmissionPolicyBinding as unknown as Model,
  'apps/v1/Deployment': Deployment as unknown as Model,
};

const Ajv = AjvModule.default;
const ajv = new Ajv({ allErrors: true, strict: false, formats: { int64: true, 'date-time': true } });
const routeValidator = ajv.compile(routeOpenApiSchema());

/** Problems of one object against the schema of its kind; empty when it conforms. */
export function schemaProblems(obj: { apiVersion?: unknown; kind?: unknown }): string[] {
  if (obj.apiVersion === ROUTE_API_VERSION && obj.kind === ROUTE_KIND) {
    return routeValidator(obj) ? [] : (routeValidator.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
  }
  const model = MODELS[`${String(obj.apiVersion)}/${String(obj.kind)}`];
  if (!model) return [`no schema known for ${String(obj.apiVersion)}/${String(obj.kind)}`];
  try {
    new model(obj as never).validate();
    return [];
  } catch (e) {
    return [e instanceof Error ? e.message : String(e)];
  }
}
