/**
 * Validation errors as data, in the manner of Kubernetes' apimachinery `field.ErrorList`:
 * tests assert on `field` and `code`; people read `message`.
 */

/** What kind of problem a field has. */
export type FieldErrorCode = 'Required' | 'Invalid' | 'Duplicate' | 'NotSupported' | 'Forbidden' | 'TooMany';

/** One problem with one field of one object. */
export interface FieldError {
  /** Path of the field, e.g. `spec.gateways[1]`. */
  readonly field: string;
  /** The offending value, when there is one. */
  readonly value?: unknown;
  readonly code: FieldErrorCode;
  /** What is wrong and, where it helps, what would be right. */
  readonly detail: string;
}

/** Builds a FieldError. */
export function fieldError(field: string, code: FieldErrorCode, detail: string, value?: unknown): FieldError {
  return value === undefined ? { field, code, detail } : { field, code, detail, value };
}

/** Renders one error as `spec.gateways[1]: "10.114.0.999" is not an IPv4 or IPv6 address`. */
export function formatFieldError(e: FieldError): string {
  return e.value === undefined ? `${e.field}: ${e.detail}` : `${e.field}: ${JSON.stringify(e.value)} ${e.detail}`;
}

/**
 * Thrown by the faces (constructs, components) when input is invalid; carries every error of the object.
 * Not part of the jsii API (a subclass of Error is not a jsii type): Python, Java and Go get the same message in
 * their own error type.
 * @jsii ignore
 */
export class ValidationError extends Error {
  constructor(
    readonly subject: string,
    readonly errors: readonly FieldError[],
  ) {
    super(`${subject} is invalid:\n${errors.map((e) => `  - ${formatFieldError(e)}`).join('\n')}`);
    this.name = 'ValidationError';
  }
}

/** A value or the list of reasons it could not be made. */
export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: readonly FieldError[] };

/** Returns the value of a Result, or throws a ValidationError naming `subject`. */
export function unwrap<T>(subject: string, r: Result<T>): T {
  if (r.ok) return r.value;
  throw new ValidationError(subject, r.errors);
}
