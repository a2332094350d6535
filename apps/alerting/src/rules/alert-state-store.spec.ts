import { decodeAlert, encodeAlert, InMemoryAlertStateStore, RedisAlertStateStore } from './alert-state-store';

const t0 = 1_767_225_600_000;

describe('alert state store encoding', () => {
  it('round-trips firing and inactive alerts through hash fields', () => {
    const firing = { status: 'firing', startsAt: t0, lastWindowStart: t0 + 10_000 } as const;
    const inactive = { status: 'inactive', lastWindowStart: t0 } as const;
    expect(encodeAlert(firing)).toEqual({ status: 'firing', startsAt: String(t0), lastWindowStart: String(t0 + 10_000) });
    expect(encodeAlert(inactive)).toEqual({ status: 'inactive', lastWindowStart: String(t0) });
    expect(decodeAlert(encodeAlert(firing))).toEqual(firing);
    expect(decodeAlert(encodeAlert(inactive))).toEqual(inactive);
  });

  it('treats a missing or unreadable hash as unknown', () => {
    expect(decodeAlert({})).toBeUndefined();
    expect(decodeAlert({ status: 'firing', lastWindowStart: String(t0) })).toBeUndefined();
    expect(decodeAlert({ status: 'pending', lastWindowStart: String(t0) })).toBeUndefined();
    expect(decodeAlert({ status: 'inactive', lastWindowStart: 'x' })).toBeUndefined();
  });

  it('keys alerts by tenant and fingerprint', () => {
    expect(RedisAlertStateStore.key('label-a', 'abc')).toBe('hr:alert:label-a:abc');
  });

  it('erases one tenant only, even when another tenant id starts with it', async () => {
    const store = new InMemoryAlertStateStore();
    await store.save('label-a', 'fp1', { status: 'inactive', lastWindowStart: t0 });
    await store.save('label-a', 'fp2', { status: 'firing', startsAt: t0, lastWindowStart: t0 });
    await store.save('label-a-2', 'fp1', { status: 'inactive', lastWindowStart: t0 });
    expect(await store.eraseTenant('label-a')).toBe(2);
    expect(await store.load('label-a', 'fp2')).toBeUndefined();
    expect(await store.load('label-a-2', 'fp1')).toEqual({ status: 'inactive', lastWindowStart: t0 });
  });
});
