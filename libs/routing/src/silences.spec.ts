import { activeSilences, isSilenced, silenceProblem, silencesEndedBy, silenceState, type Silence } from './silences';

const T = 1_700_000_000_000;
const silence = (id: string, matchers: string[], over: Partial<Silence> = {}): Silence => ({
  id,
  matchers,
  startsAt: T,
  endsAt: T + 3600_000,
  createdBy: 'ana@example.com',
  comment: 'maintenance',
  ...over,
});

describe('silences', () => {
  const silences = [
    silence('s1', ['alertname="DiskFull"']),
    silence('s2', ['instance=~"db-.*"', 'env!="dev"']),
    silence('later', ['alertname="DiskFull"'], { startsAt: T + 60_000 }),
    silence('over', ['alertname="DiskFull"'], { endsAt: T - 1 }),
  ];

  it('is active from startsAt to endsAt inclusive', () => {
    expect(silenceState(silences[0]!, T - 1)).toBe('pending');
    expect(silenceState(silences[0]!, T)).toBe('active');
    expect(silenceState(silences[0]!, T + 3600_000)).toBe('active');
    expect(silenceState(silences[0]!, T + 3600_001)).toBe('expired');
    expect(activeSilences(silences, T + 1).map((s) => s.id)).toEqual(['s1', 's2']);
    expect(activeSilences(silences, T + 60_000).map((s) => s.id)).toEqual(['s1', 's2', 'later']);
  });

  it('says which active silences match', () => {
    expect(isSilenced({ alertname: 'DiskFull', instance: 'db-1', env: 'prod' }, silences, T + 60_000)).toEqual({ silenced: true, silenceIds: ['s1', 's2', 'later'] });
    expect(isSilenced({ alertname: 'Cpu', instance: 'db-1', env: 'dev' }, silences, T)).toEqual({ silenced: false, silenceIds: [] });
    expect(isSilenced({ alertname: 'Cpu', instance: 'db-1' }, silences, T)).toEqual({ silenced: true, silenceIds: ['s2'] });
    expect(isSilenced({ alertname: 'DiskFull' }, silences, T + 7200_000).silenced).toBe(false);
  });

  it('lists the end-on-resolve silences a resolving alert ends', () => {
    const list = [silence('keep', ['alertname="A"']), silence('end', ['alertname="A"'], { endOnResolve: true }), silence('other', ['alertname="B"'], { endOnResolve: true })];
    expect(silencesEndedBy({ alertname: 'A' }, list, T)).toEqual(['end']);
  });

  it('refuses silences that would silence everything or cannot parse', () => {
    expect(silenceProblem(silence('x', []))).toMatch(/at least one matcher/);
    expect(silenceProblem(silence('x', ['env=~".*"', 'team!="x"']))).toMatch(/empty string/);
    expect(silenceProblem(silence('x', ['env=~"("']))).toMatch(/bad matcher/);
    expect(silenceProblem(silence('x', ['a="1"'], { endsAt: T - 1 }))).toMatch(/before startsAt/);
    expect(silenceProblem(silence('x', ['a="1"']))).toBeUndefined();
  });
});
