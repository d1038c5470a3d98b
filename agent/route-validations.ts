/**
 * Each Route validated once per generation, not on every pass (validation was most of a pass at 2,500 Routes): the
 * dataplane loop's cache of `validateRoute` results, keyed by uid/generation where the source has them (the API
 * server bumps the generation on every spec change; status writes keep it), by the object itself otherwise (files:
 * kept until they change).
 */
import { validateRoute, type NormalizedRoute, type Result } from '../core/index.js';
import { OVERRIDE_HALVES, type PlanRouteInput } from '../core/plan/index.js';
import type { SourceSnapshot, SourcedRoute } from './ports.js';

/** The spec of a sourced object as a comparable key (an override is confirmed per spec). */
export function specKey(object: unknown): string {
  return JSON.stringify(typeof object === 'object' && object !== null ? (object as { spec?: unknown }).spec ?? null : null);
}

/** The main-table destinations a Route's spec names (an override's /0 as its two halves), read without validation. */
export function specDestinations(object: unknown): string[] {
  const spec = typeof object === 'object' && object !== null ? (object as { spec?: { destinations?: unknown } }).spec : undefined;
  const list = Array.isArray(spec?.destinations) ? spec.destinations.filter((d): d is string => typeof d === 'string') : [];
  return list.flatMap((d) => (d === '0.0.0.0/0' ? [...OVERRIDE_HALVES[4]] : d === '::/0' ? [...OVERRIDE_HALVES[6]] : [d]));
}

interface Entry {
  readonly version: unknown;
  readonly result: Result<NormalizedRoute>;
  readonly spec: string;
  readonly source: SourcedRoute;
  readonly input: PlanRouteInput;
}

/** Validation results per Route, kept while the Route's version is the same. */
export class RouteValidations {
  private readonly entries = new Map<string, Entry>();
  /** Validations run so far (tests check a pass reuses them). */
  runs = 0;

  /**
   * The snapshot's Routes with their validation, as the planner's input. A Route whose sourced object is the same as
   * last time gets the very same input object back, so the planner's memo finds it by identity.
   */
  inputs(snapshot: SourceSnapshot): PlanRouteInput[] {
    const out = snapshot.routes.map((r): PlanRouteInput => {
      if (r.deleting) return r;
      const version = r.uid !== undefined && r.generation !== undefined ? `${r.uid}/${r.generation}` : r.object;
      const cached = this.entries.get(r.name);
      if (cached && cached.version === version) {
        if (cached.source === r) return cached.input;
        const input = { ...r, validated: cached.result };
        this.entries.set(r.name, { ...cached, source: r, input });
        return input;
      }
      this.runs++;
      const result = validateRoute(r.object);
      const input = { ...r, validated: result };
      this.entries.set(r.name, { version, result, spec: specKey(r.object), source: r, input });
      return input;
    });
    if (this.entries.size > out.length) {
      const names = new Set(out.map((r) => r.name));
      for (const n of [...this.entries.keys()]) if (!names.has(n)) this.entries.delete(n);
    }
    return out;
  }

  /** Each Route's spec key (an override is confirmed per spec), from the cache where it has one. */
  specs(snapshot: SourceSnapshot): Map<string, string> {
    return new Map(snapshot.routes.map((r) => [r.name, this.entries.get(r.name)?.spec ?? specKey(r.object)]));
  }
}
