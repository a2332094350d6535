import { CATALOGS, FALLBACK_LANGUAGE } from './catalogs';

export interface ResolvedLocale {
  /** The catalog used after fallback: `fr` for `fr-CA`, `en` for `pt-BR` or an invalid tag. */
  language: string;
  /**
   * The tag numbers and dates are formatted with: the requested one when its catalog was found
   * (`fr-CA` keeps Canadian conventions with French words), else the catalog's language, so
   * English words never come with Brazilian number formats.
   */
  formatLocale: string;
}

/** Region → language → English: `fr-CA` → `fr` → `en`. Never throws (tags come from tenant configs). */
export function resolveLocale(tag: string | undefined): ResolvedLocale {
  let canonical: string | undefined;
  try {
    // POSIX spellings (`fr_CA`) are common in configs; BCP 47 wants hyphens.
    canonical = Intl.getCanonicalLocales(tag?.replace(/_/g, '-'))[0];
  } catch {
    canonical = undefined;
  }
  if (canonical) {
    const subtags = canonical.split('-');
    for (let n = subtags.length; n > 0; n--) {
      const candidate = subtags.slice(0, n).join('-');
      if (CATALOGS[candidate]) return { language: candidate, formatLocale: canonical };
    }
  }
  return { language: FALLBACK_LANGUAGE, formatLocale: FALLBACK_LANGUAGE };
}
