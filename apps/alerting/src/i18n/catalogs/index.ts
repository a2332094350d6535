import { de } from './de';
import { en, type Catalog, type MessageKey } from './en';
import { es } from './es';
import { fr } from './fr';
import { it } from './it';

export type { Catalog, MessageKey };

/** Catalogs by BCP 47 tag; a regional catalog (`fr-CA`) would simply be another entry. */
export const CATALOGS: Readonly<Record<string, Catalog>> = { en, fr, de, es, it };

export const FALLBACK_LANGUAGE = 'en';

export const MESSAGE_KEYS = Object.keys(en) as MessageKey[];
