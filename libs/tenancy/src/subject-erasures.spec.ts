import { SubjectErasures } from './subject-erasures';

const P = `u_${'a'.repeat(43)}`;
const Q = `u_${'b'.repeat(43)}`;

describe('SubjectErasures', () => {
  it('covers a series with the pseudonym as any label value, for windows from before the request only', () => {
    const e = new SubjectErasures();
    e.add('nova', P, 1_000);
    expect(e.coversLabels('nova', { user: P }, 1_000)).toBe(true);
    expect(e.coversLabels('nova', { listener: P, route: '/play' }, 500)).toBe(true);
    // Data the subject produced after the request is new data.
    expect(e.coversLabels('nova', { user: P }, 1_001)).toBe(false);
    // Another subject, another tenant, or the pseudonym as a label name: not covered.
    expect(e.coversLabels('nova', { user: Q }, 500)).toBe(false);
    expect(e.coversLabels('other', { user: P }, 500)).toBe(false);
    expect(e.coversLabels('nova', { [P]: 'x' }, 500)).toBe(false);
    expect(e.erased('nova', P, 999)).toBe(true);
    expect(e.erased('nova', P, 2_000)).toBe(false);
  });

  it('takes the covered items out in place, keeping the order of the rest', () => {
    const e = new SubjectErasures();
    e.add('nova', P, 10);
    const items = [{ v: P }, { v: Q }, { v: P }, { v: 'x' }];
    const taken = e.take(items, (i) => e.coversLabels('nova', { user: i.v }, 0));
    expect(taken).toEqual([{ v: P }, { v: P }]);
    expect(items).toEqual([{ v: Q }, { v: 'x' }]);
  });

  it('forgets an erased tenant and entries past the horizon', () => {
    const e = new SubjectErasures(1_000);
    e.add('nova', P, 0);
    e.add('aria', Q, 5_000);
    e.forgetTenant('aria');
    expect(e.erased('aria', Q, 0)).toBe(false);
    e.prune(500);
    expect(e.erased('nova', P, 0)).toBe(true);
    e.prune(1_001);
    expect(e.erased('nova', P, 0)).toBe(false);
  });
});
