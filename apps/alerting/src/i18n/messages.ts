import { IntlMessageFormat } from 'intl-messageformat';
import { BoundedCache } from './bounded-cache';
import { CATALOGS, FALLBACK_LANGUAGE, type MessageKey } from './catalogs';
import { en } from './catalogs/en';

type MessageElement = ReturnType<IntlMessageFormat['getAst']>[number];
export type MessageValues = Record<string, string | number>;

// Tags (`<b>…</b>`) are not ours to interpret: a `<` in a tenant's template stays a character.
const PARSE_OPTIONS = { ignoreTag: true };
// Cap on an override's length: a template is a sentence, not a document.
const MAX_TEMPLATE_LENGTH = 2000;

function compile(message: string, locale: string): IntlMessageFormat {
  return new IntlMessageFormat(message, locale, undefined, PARSE_OPTIONS);
}

function collectArguments(elements: MessageElement[], into: Set<string>): Set<string> {
  for (const el of elements) {
    // 0 = literal text, 7 = `#` inside a plural: neither names an argument.
    if (el.type === 0 || el.type === 7) continue;
    into.add(el.value);
    if ('options' in el) for (const option of Object.values(el.options)) collectArguments(option.value, into);
    if ('children' in el) collectArguments(el.children, into);
  }
  return into;
}

/** Names of the arguments a message reads, at any depth (inside plural and select branches too). Throws if it does not parse. */
export function argumentsOf(message: string): Set<string> {
  return collectArguments(compile(message, FALLBACK_LANGUAGE).getAst(), new Set());
}

const englishArguments = new Map<string, Set<string>>(Object.entries(en).map(([key, message]) => [key, argumentsOf(message)]));

/** Sample values for a trial format: `count` feeds plurals, every other argument is pre-formatted text. */
function sampleValues(names: Iterable<string>): MessageValues {
  return Object.fromEntries([...names].map((name) => [name, name === 'count' ? 2 : name]));
}

function formatToString(mf: IntlMessageFormat, values: MessageValues): string {
  const out = mf.format(values);
  return Array.isArray(out) ? out.join('') : String(out);
}

export interface TemplateProblem {
  /** The message key, e.g. `title.firing`. */
  path: string;
  message: string;
}

/**
 * Checks a tenant's template overrides when the config is accepted, so a bad one is refused with its
 * key and reason instead of failing at 3 am. `renderNotification` re-checks at send time and falls back
 * to the catalog: an override that slipped through still never breaks a page.
 */
export function validateTemplates(templates: Record<string, unknown> | undefined): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  for (const [key, template] of Object.entries(templates ?? {})) {
    const problem = templateProblem(key, template);
    if (problem) problems.push({ path: key, message: problem });
  }
  return problems;
}

function templateProblem(key: string, template: unknown): string | undefined {
  const allowed = englishArguments.get(key);
  if (!allowed) return `is not a message key (known keys: ${[...englishArguments.keys()].join(', ')})`;
  if (typeof template !== 'string' || template.trim() === '') return 'must be a non-empty ICU MessageFormat string';
  if (template.length > MAX_TEMPLATE_LENGTH) return `is longer than ${MAX_TEMPLATE_LENGTH} characters`;
  let used: Set<string>;
  try {
    used = argumentsOf(template);
  } catch (err) {
    return `does not parse as ICU MessageFormat: ${(err as Error).message}`;
  }
  const unknown = [...used].filter((name) => !allowed.has(name));
  if (unknown.length > 0) {
    const known = allowed.size > 0 ? [...allowed].map((a) => `{${a}}`).join(', ') : 'no argument';
    return `uses unknown argument${unknown.length > 1 ? 's' : ''} ${unknown.map((a) => `{${a}}`).join(', ')}; this message takes ${known}`;
  }
  try {
    formatToString(compile(template, FALLBACK_LANGUAGE), sampleValues(allowed));
  } catch (err) {
    return `cannot be formatted: ${(err as Error).message}`;
  }
  return undefined;
}

const compiled = new BoundedCache<string, IntlMessageFormat>(2000);
// Overrides that fail validation are remembered as such (null), so a bad one costs one parse, not one per page.
const overrides = new BoundedCache<string, IntlMessageFormat | null>(1000);

/** Words for one notification: the catalog of one language, formatted for one locale, with the tenant's overrides on top. */
export class Messages {
  constructor(
    readonly language: string,
    readonly formatLocale: string,
    private readonly templates: Record<string, string> = {},
  ) {}

  text(key: MessageKey, values: MessageValues = {}): string {
    const override = this.override(key);
    if (override) {
      try {
        return formatToString(override, values);
      } catch {
        // Fall through to the catalog: a page in the default wording beats no page.
      }
    }
    const catalog = CATALOGS[this.language] ?? en;
    const mf = compiled.getOrCreate(`${this.formatLocale}\u0000${this.language}\u0000${key}`, () => compile(catalog[key], this.formatLocale));
    return formatToString(mf, values);
  }

  private override(key: MessageKey): IntlMessageFormat | null {
    const template = this.templates[key];
    if (typeof template !== 'string') return null;
    return overrides.getOrCreate(`${this.formatLocale}\u0000${key}\u0000${template}`, () =>
      templateProblem(key, template) === undefined ? compile(template, this.formatLocale) : null,
    );
  }
}
