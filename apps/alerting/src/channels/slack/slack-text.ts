/**
 * Tenant-controlled text (labels, annotations, names) made inert for Slack.
 *
 * Slack treats `&`, `<` and `>` as control characters and asks for them as HTML entities; once `<`
 * is `&lt;`, no `<!channel>`, `<!here>`, `<@U…>`, `<#C…>` or `<https://…|text>` sequence can form.
 * Bare `@channel`/`@here`/`@everyone` only notify with `link_names`, which we never set; a word
 * joiner after the `@` keeps them inert even if a future change turned it on.
 * Tenant text only goes into `plain_text` objects (no bold/italic/strike/code is interpreted there),
 * and the fallback `text` is sent with `mrkdwn: false`, so `* _ ~ \`` cannot spoof formatting.
 */
export function slackText(raw: string): string {
  return raw
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/@(channel|here|everyone)\b/gi, '@\u2060$1');
}

/** Escaped and cut to Slack's limit for the field (header 150, section 3000…), never inside an entity. */
export function slackTextWithin(raw: string, max: number): string {
  let text = slackText(raw);
  if (text.length <= max) return text;
  let cut = Math.min(raw.length, max);
  do {
    cut -= Math.max(1, text.length - max);
    text = `${slackText(raw.slice(0, Math.max(0, cut)))}…`;
  } while (text.length > max && cut > 0);
  return text;
}

/** An http(s) URL for a link button, or undefined: `javascript:`, `slack:` and relative links are dropped. */
export function httpUrl(raw: string | undefined, max = 3000): string | undefined {
  if (!raw || raw.length > max) return undefined;
  try {
    const url = new URL(raw);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}
