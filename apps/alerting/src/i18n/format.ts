import { BoundedCache } from './bounded-cache';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

type Unit = 'day' | 'hour' | 'minute' | 'second';

/** `Intl` formatters for one locale and time zone, built once: constructing them costs more than formatting. */
export class LocaleFormatter {
  private readonly numbers: Intl.NumberFormat;
  private readonly dateTimes: Intl.DateTimeFormat;
  private readonly slots: Intl.DateTimeFormat;
  private readonly percents: Intl.NumberFormat;
  private readonly units: Record<Unit, Intl.NumberFormat>;
  private readonly unitList: Intl.ListFormat;

  constructor(
    readonly locale: string,
    readonly timeZone: string,
  ) {
    // Two decimals for ordinary values, three significant digits for small ones (0.00314 stays readable).
    // (roundingPriority is ES2023: Node 20 has it, the ES2022 typings do not.)
    this.numbers = new Intl.NumberFormat(locale, { maximumFractionDigits: 2, maximumSignificantDigits: 3, roundingPriority: 'morePrecision' } as Intl.NumberFormatOptions);
    this.percents = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 0 });
    // The zone name is always shown: an on-call person must not have to guess UTC from local time.
    this.dateTimes = new Intl.DateTimeFormat(locale, {
      year: 'numeric',
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      timeZone,
      timeZoneName: 'short',
    });
    this.slots = new Intl.DateTimeFormat(locale, { weekday: 'short', hour: '2-digit', minute: '2-digit', timeZone });
    const unit = (u: string) => new Intl.NumberFormat(locale, { style: 'unit', unit: u, unitDisplay: 'short', maximumFractionDigits: 0 });
    this.units = { day: unit('day'), hour: unit('hour'), minute: unit('minute'), second: unit('second') };
    this.unitList = new Intl.ListFormat(locale, { type: 'unit', style: 'narrow' });
  }

  number(value: number): string {
    return this.numbers.format(value);
  }

  /** A ratio (0.25) as the locale writes a percentage (`25 %` in French). */
  percent(ratio: number): string {
    return this.percents.format(ratio);
  }

  dateTime(epochMs: number): string {
    return this.dateTimes.format(epochMs);
  }

  /** Weekday and time of day, the seasonal detector's slot (`Tue 02:00 PM`, `mar. 14:00`). */
  slot(epochMs: number): string {
    return this.slots.format(epochMs);
  }

  /**
   * `1 hr 5 min`, `1 h et 5 min`, `2 Tg., 3 Std.`: the two largest non-zero units, as
   * Intl.DurationFormat would (not in Node 20) — unit numbers joined by the locale's unit list.
   */
  duration(ms: number): string {
    const total = Math.max(0, Math.round(ms / 1000) * 1000);
    if (total < MINUTE) return this.units.second.format(total / 1000);
    const parts: [Unit, number][] = [
      ['day', Math.floor(total / DAY)],
      ['hour', Math.floor((total % DAY) / HOUR)],
      ['minute', Math.floor((total % HOUR) / MINUTE)],
    ];
    const first = parts.findIndex(([, v]) => v > 0);
    const shown = parts.slice(first, first + 2).filter(([, v]) => v > 0);
    return this.unitList.format(shown.map(([u, v]) => this.units[u].format(v)));
  }
}

/** A time zone Intl knows, else UTC (the zone comes from a tenant's route). */
export function validTimeZone(timeZone: string | undefined): string {
  if (!timeZone) return 'UTC';
  try {
    return new Intl.DateTimeFormat('en', { timeZone }).resolvedOptions().timeZone;
  } catch {
    return 'UTC';
  }
}

const formatters = new BoundedCache<string, LocaleFormatter>(200);

export function formatterFor(locale: string, timeZone?: string): LocaleFormatter {
  const zone = validTimeZone(timeZone);
  return formatters.getOrCreate(`${locale}|${zone}`, () => new LocaleFormatter(locale, zone));
}
