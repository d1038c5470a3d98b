/**
 * How the Pulumi face reports bad input. Values known when a component is constructed are checked there (the
 * program stops before any resource is registered); values that are Outputs are checked inside `apply()`, where
 * the failure becomes a `pulumi.ResourceError` naming the component (docs/pulumi.md, "When inputs are checked").
 */
import * as pulumi from '@pulumi/pulumi';
import { formatFieldError, ValidationError, type FieldError } from '../core/index.js';

/** A `pulumi.ResourceError` that carries the field errors as data, so tests and tools can read field and code. */
export class ComponentValidationError extends pulumi.ResourceError {
  /** Every problem found, in the core's `{field, code, detail, value}` form. */
  readonly errors: readonly FieldError[];

  constructor(subject: string, errors: readonly FieldError[], resource: pulumi.Resource | undefined) {
    const message = `${subject} is invalid:\n${errors.map((e) => `  - ${formatFieldError(e)}`).join('\n')}`;
    super(message, resource, true);
    this.name = 'ComponentValidationError';
    this.errors = errors;
    // A late failure rejects the child's inputs too, and Pulumi's serializer prefixes the message of an error passing
    // through them (`error serializing property "spec": …`), which would blame the child's property for a bad input
    // of the component. The same error object is what the engine reports (once, on `resource`), so the message
    // stays the component's own.
    Object.defineProperty(this, 'message', { get: () => message, set: () => undefined, enumerable: false, configurable: true });
  }
}

/** Throws a ComponentValidationError when `errors` is not empty. */
export function failOn(subject: string, errors: readonly FieldError[], resource: pulumi.Resource | undefined): void {
  if (errors.length > 0) throw new ComponentValidationError(subject, errors, resource);
}

/** Runs a core function that may throw the core's ValidationError and rethrows it as a ComponentValidationError. */
export function asComponentError<T>(subject: string, resource: pulumi.Resource | undefined, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ValidationError) throw new ComponentValidationError(subject, e.errors, resource);
    throw e;
  }
}

/**
 * The value of an input when it is known now: a plain value, or an array whose items are all plain. Outputs and
 * promises (and arrays holding any) give `undefined`: they are checked later, in `apply()`.
 */
export function knownNow<T>(input: pulumi.Input<T> | undefined): T | undefined {
  if (input === undefined || pulumi.Output.isInstance(input) || input instanceof Promise) return undefined;
  if (Array.isArray(input) && input.some((i) => pulumi.Output.isInstance(i) || i instanceof Promise)) return undefined;
  return input as T;
}

/** The items of an array input that are known now, with their indexes (for per-item checks at construction). */
export function knownItems<T>(input: pulumi.Input<pulumi.Input<T>[]> | undefined): Array<{ index: number; value: T }> {
  if (input === undefined || pulumi.Output.isInstance(input) || input instanceof Promise) return [];
  const out: Array<{ index: number; value: T }> = [];
  input.forEach((item, index) => {
    if (!pulumi.Output.isInstance(item) && !(item instanceof Promise)) out.push({ index, value: item as T });
  });
  return out;
}
