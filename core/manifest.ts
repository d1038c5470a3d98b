/** The plain-object shape every Kubernetes manifest the core builds has. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

/** Labels every object of kroute's agent carries. */
export function commonLabels(component: string, version: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'kroute',
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': 'kroute',
    'app.kubernetes.io/version': version,
    'app.kubernetes.io/managed-by': 'kroute',
  };
}

/** kroute's version, stamped on manifests and used as the default image tag. */
export const KROUTE_VERSION = '0.1.0';
