/** The agent's container image, as one typed knob: registry, repository, and a tag or a digest. */
import { fieldError, type FieldError } from './errors.js';
import { KROUTE_VERSION } from './manifest.js';

/**
 * Where the agent image comes from. kroute publishes no image to a public registry: you build it
 * (`npm run image`) and either import the archive on the nodes or push it to a registry of yours (docs/install.md).
 */
export interface ImageRef {
  /**
   * Registry host. The default `localhost` is the name the image archive carries (podman's name for a local
   * image): an imported archive runs as is, and nothing is ever pulled from a registry someone else controls.
   * @default "localhost"
   */
  readonly registry?: string;
  /** @default "kroute/agent" */
  readonly repository?: string;
  /** Ignored when `digest` is set. @default the kroute version */
  readonly tag?: string;
  /** `sha256:...`; pins the image exactly. @default none */
  readonly digest?: string;
}

/** The default image reference, `localhost/kroute/agent:<version>`: what `npm run image` tags and saves. */
export const DEFAULT_IMAGE: Required<Omit<ImageRef, 'digest'>> = {
  registry: 'localhost',
  repository: 'kroute/agent',
  tag: KROUTE_VERSION,
};

/** Renders `registry/repository:tag` or `registry/repository@sha256:...`. */
export function imageReference(ref: ImageRef = {}): string {
  const registry = ref.registry ?? DEFAULT_IMAGE.registry;
  const repo = ref.repository ?? DEFAULT_IMAGE.repository;
  const base = registry ? `${registry}/${repo}` : repo;
  return ref.digest ? `${base}@${ref.digest}` : `${base}:${ref.tag ?? DEFAULT_IMAGE.tag}`;
}

/** Checks an image reference's parts. */
export function validateImageRef(ref: ImageRef, path = 'image'): FieldError[] {
  const errs: FieldError[] = [];
  if (ref.registry !== undefined && !/^[a-zA-Z0-9.-]+(:[0-9]+)?$/.test(ref.registry) && ref.registry !== '') {
    errs.push(fieldError(`${path}.registry`, 'Invalid', 'is not a registry host such as ghcr.io or localhost:5000', ref.registry));
  }
  if (ref.repository !== undefined && !/^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/.test(ref.repository)) {
    errs.push(fieldError(`${path}.repository`, 'Invalid', 'is not a repository path (lower-case, e.g. kroute/agent)', ref.repository));
  }
  if (ref.tag !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(ref.tag)) {
    errs.push(fieldError(`${path}.tag`, 'Invalid', 'is not a valid tag', ref.tag));
  }
  if (ref.digest !== undefined && !/^sha256:[a-f0-9]{64}$/.test(ref.digest)) {
    errs.push(fieldError(`${path}.digest`, 'Invalid', 'must be sha256: followed by 64 hex digits', ref.digest));
  }
  return errs;
}
