import { CATALOGS, MESSAGE_KEYS } from './catalogs';
import { en } from './catalogs/en';
import { argumentsOf, Messages } from './messages';

/** Every way a catalog can disagree with the reference: a missing key must fail a test, not a page. */
function catalogProblems(reference: Record<string, string>, catalog: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(reference)) if (!(key in catalog)) problems.push(`missing ${key}`);
  for (const key of Object.keys(catalog)) if (!(key in reference)) problems.push(`unknown ${key}`);
  for (const [key, message] of Object.entries(catalog)) {
    if (!(key in reference)) continue;
    let args: string[];
    try {
      args = [...argumentsOf(message)].sort();
    } catch (err) {
      problems.push(`${key} does not parse: ${(err as Error).message}`);
      continue;
    }
    const expected = [...argumentsOf(reference[key]!)].sort();
    if (args.join() !== expected.join()) problems.push(`${key} takes {${args.join('}, {')}} instead of {${expected.join('}, {')}}`);
  }
  return problems;
}

describe('message catalogs', () => {
  it('offers the five languages', () => {
    expect(Object.keys(CATALOGS).sort()).toEqual(['de', 'en', 'es', 'fr', 'it']);
  });

  it.each(Object.keys(CATALOGS).filter((l) => l !== 'en'))('%s has exactly the English keys, each with the same arguments', (language) => {
    expect(catalogProblems(en, CATALOGS[language]!)).toEqual([]);
  });

  it('the check itself catches a missing key, an extra key, a changed argument and a broken message', () => {
    const broken: Record<string, string> = { ...en, 'alert.value': 'Valeur : {valeur}', 'status.muted': 'MUET', 'alert.since': 'Depuis {since' };
    delete broken['action.runbook'];
    expect(catalogProblems(en, broken)).toEqual([
      'missing action.runbook',
      'unknown status.muted',
      'alert.value takes {valeur} instead of {value}',
      expect.stringMatching(/^alert\.since does not parse/),
    ]);
  });

  it.each(Object.keys(CATALOGS))('%s messages all format with their arguments', (language) => {
    const messages = new Messages(language, language);
    for (const key of MESSAGE_KEYS) {
      const values = Object.fromEntries([...argumentsOf(en[key])].map((a) => [a, a === 'count' ? 3 : a === 'direction' ? 'above' : `<${a}>`]));
      const text = messages.text(key, values);
      expect(text.length).toBeGreaterThan(0);
      for (const [name, value] of Object.entries(values)) if (name !== 'count' && name !== 'direction') expect(text).toContain(value);
    }
  });
});
