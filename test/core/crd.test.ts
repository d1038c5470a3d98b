/**
 * The Route CRD's day-two surface: a description on every field (what `kubectl explain` prints; checked against a
 * real API server in test/install/install-e2e.test.ts) and the printer columns of `kubectl get routes`.
 */
import { routeCrd, routeOpenApiSchema } from '../../core/index.js';

type Schema = { description?: string; properties?: Record<string, Schema>; items?: Schema };

/** Paths of properties without a description (metadata excepted: the API server allows only its type). */
function undescribed(s: Schema, path: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(s.properties ?? {})) {
    const p = `${path}.${k}`;
    if (p === '.metadata') continue;
    if (!v.description) out.push(p);
    out.push(...undescribed(v, p));
  }
  if (s.items) out.push(...undescribed(s.items, `${path}[]`));
  return out;
}

describe('the Route CRD for operators', () => {
  it.each([true, false])('describes every field (celValidation %s)', (celValidation) => {
    const schema = routeOpenApiSchema({ celValidation }) as Schema;
    expect(undescribed(schema, '')).toEqual([]);
    // The walk does reach the leaves.
    expect(schema.properties?.status?.properties?.nodes?.items?.properties?.activeGateways?.description).toMatch(/Gateways in the kernel route/);
  });

  it('the walk finds a missing description (the check can fail)', () => {
    expect(undescribed({ properties: { spec: { description: 'x', properties: { a: {} } } } }, '')).toEqual(['.spec.a']);
  });

  it('kubectl get routes shows Ready (the Ready condition) beside Applied', () => {
    const cols = ((routeCrd().spec as { versions: { additionalPrinterColumns: { name: string; jsonPath: string; priority?: number }[] }[] }).versions[0]?.additionalPrinterColumns ?? []);
    expect(cols.filter((c) => !c.priority).map((c) => c.name)).toEqual(['Destinations', 'Gateways', 'Applied', 'Ready', 'Age']);
    expect(cols.find((c) => c.name === 'Ready')?.jsonPath).toBe('.status.conditions[?(@.type=="Ready")].status');
  });
});
