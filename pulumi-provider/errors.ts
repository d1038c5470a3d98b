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
    // Bad input, not a crash: no trace. Pulumi honours `hideStack` in programs, but a component provider's host logs
    // `err.stack` of an unhandled error as it is (a YAML user would read kroute's file paths under the field).
    Object.defineProperty(this, 'stack', { value: message, writable: true, enumerable: false, configurable: true });
  }
}

/** The Outputs whose apply() checks a component's late values, by component (see `lateChecked`). */
const lateChecks = new WeakMap<pulumi.Resource, Array<pulumi.Output<unknown>>>();

/**
 * Records `checked`, an Output whose apply() throws a ComponentValidationError for a bad late value, as a check of
 * `component`, and returns it. The component's `initialize()` awaits it (`awaitLateChecks`), so whatever depends on
 * the component fails with that same error instead of waiting for a child that is never registered.
 */
export function lateChecked<T>(component: pulumi.ComponentResource, checked: pulumi.Output<T>): pulumi.Output<T> {
  const list = lateChecks.get(component) ?? [];
  list.push(checked);
  lateChecks.set(component, list);
  return checked;
}

/**
 * For a component's `initialize()`: resolves once every late check of `component` passed (or, in a preview, is
 * still unknown), and rejects with the check's own error when one failed.
 *
 * Why: a child whose input rejects is never registered, and Pulumi's Node SDK then never settles the child's URN
 * (pulumi/pulumi#14980). A resource with `dependsOn: [component]` waits for the URNs of the component's children,
 * after `initialize()`: without this it waits forever, and an inline Automation API `up` never finishes. With it,
 * that resource fails with the component's error (reported once: it is the same error object), and is not created.
 */
export async function awaitLateChecks(component: pulumi.ComponentResource): Promise<void> {
  // initialize() starts inside super(); the constructor records its checks before this continues.
  await Promise.resolve();
  const checks = lateChecks.get(component) ?? [];
  // `promise()` is the Output's value (undefined while unknown); Pulumi's own registration awaits it the same way,
  // and the public Output interface has no way to await a value.
  await Promise.all(checks.map((c) => (c as unknown as { promise(): Promise<unknown> }).promise()));
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
