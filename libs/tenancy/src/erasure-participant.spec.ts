import { controlKey, type ErasureRequestRecord } from '@headroom/contracts';
import { KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import type { RecordPublisher } from '@headroom/kafka';
import { ErasureParticipant } from './erasure-participant';
import { TenantDirectory } from './tenant-directory';

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } as never;
const pseudonym = (c: string) => `u_${c.repeat(43)}`;
const request = (id: string, subject: string): ErasureRequestRecord => ({ kind: 'erasure_request', id, tenant: 'label-a', scope: 'subject', subject, requestedAt: '2026-01-01T00:00:00Z' });

describe('ErasureParticipant', () => {
  it('at boot, carries out the requests still open once the control topic is read, not those completed further on in it', async () => {
    const directory = new TenantDirectory(new TenantKeyring(KeyEncryptionKey.generate()));
    const acks: string[] = [];
    const publisher = { publish: async (_m: unknown, records: { key: string }[]) => void acks.push(...records.map((r) => r.key)) } as unknown as RecordPublisher;
    const handled: string[] = [];
    let caughtUp!: () => void;
    const ready = new Promise<void>((resolve) => (caughtUp = resolve));
    const participant = new ErasureParticipant('analytics', directory, publisher, { subject: async (_t, s) => (handled.push(s), { deleted: {}, left: [] }), tenant: async () => ({ deleted: {}, left: [] }) }, silent, { ready: () => ready });

    // What a restarting service reads: a completed request (its tombstone follows), and an open one.
    const done = request('11111111-1111-4111-8111-111111111111', pseudonym('a'));
    const open = request('22222222-2222-4222-8222-222222222222', pseudonym('b'));
    directory.apply(controlKey(done), done);
    directory.apply(controlKey(open), open);
    await new Promise((r) => setImmediate(r));
    expect(handled).toEqual([]); // nothing runs before the topic has been read
    directory.apply(controlKey(done), null);
    caughtUp();
    await participant.idle();
    expect(handled).toEqual([pseudonym('b')]);
    expect(acks).toEqual([open.id]);

    // Live, after the boot: a new request runs at once.
    const live = request('33333333-3333-4333-8333-333333333333', pseudonym('c'));
    directory.apply(controlKey(live), live);
    await participant.idle();
    expect(handled).toEqual([pseudonym('b'), pseudonym('c')]);
  });
});
