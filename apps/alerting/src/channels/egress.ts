import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, fetch as undiciFetch } from 'undici';
import type { ConfigProblem } from './channel';

/**
 * Egress guard for the URLs a tenant chooses (webhook and SMS targets): without it, any tenant admin
 * could make alerting POST to the deployment's own network — cloud metadata at 169.254.169.254,
 * Redis or the Kafka broker on a private address, another service's admin port on loopback — and read
 * part of the answer back in the DLQ reason.
 *
 * - Only public unicast addresses are reached. Loopback, private (RFC 1918, unique local), link-local,
 *   carrier-grade NAT, multicast, unspecified, reserved and translated ranges (NAT64, 6to4, Teredo,
 *   IPv4-mapped IPv6 unwrapped first) are refused, unless the deployment allows a CIDR
 *   (`ALERTING_EGRESS_ALLOW`, e.g. an in-cluster receiver's 10.0.0.0/8).
 * - The check is on the address actually connected to: hostnames are checked in the socket's own DNS
 *   lookup, so a name that resolves to a public address when checked and to 127.0.0.1 when used (DNS
 *   rebinding) is still refused. IP literals, which skip the lookup, are checked before the request.
 * - Redirects are never followed by the channels (`redirect: 'manual'`), so a public URL cannot
 *   bounce the request inward.
 */
export class EgressDeniedError extends Error {
  readonly code = 'EGRESS_DENIED';
  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(`egress to ${host} denied: ${address} is a ${range} address (allow it with ALERTING_EGRESS_ALLOW)`);
    this.name = 'EgressDeniedError';
  }
}

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

export class EgressPolicy {
  private readonly allowed: Cidr[];

  /** `allow`: CIDRs reachable although not public unicast; check them first with `checkEgressAllow`. */
  constructor(allow: readonly string[] = []) {
    this.allowed = allow.map((c) => ipaddr.parseCIDR(c));
  }

  /** Why `address` may not be reached, or undefined when it may. */
  denial(address: string): string | undefined {
    let ip: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      ip = ipaddr.process(address);
    } catch {
      return 'unparseable';
    }
    for (const [net, bits] of this.allowed) if (net.kind() === ip.kind() && ip.match(net, bits)) return undefined;
    const range = ip.range();
    return range === 'unicast' ? undefined : range;
  }

  /** Throws `EgressDeniedError` when `address` may not be reached from `host`. */
  check(host: string, address: string): void {
    const range = this.denial(address);
    if (range) throw new EgressDeniedError(host, address, range);
  }

  /** A `lookup` for sockets: resolves as usual, then refuses if any resolved address is denied. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      try {
        for (const a of addresses) this.check(hostname, a.address);
      } catch (denied) {
        return callback(denied as NodeJS.ErrnoException, '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };

  /**
   * A `fetch` bound to this policy: literal addresses checked before anything is sent, names checked
   * in the connection's lookup. A denial rejects with an `EgressDeniedError` (as the error's cause
   * when it comes from the connection, as fetch wraps network errors).
   */
  fetch(): typeof fetch {
    const agent = new Agent({ connect: { lookup: this.lookup } });
    return (async (input: string | URL, init?: RequestInit) => {
      const url = new URL(String(input));
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host)) this.check(url.hostname, host);
      return undiciFetch(url, { ...(init as object), dispatcher: agent } as Parameters<typeof undiciFetch>[1]);
    }) as unknown as typeof fetch;
  }
}

/** The egress denial behind a failed fetch, if that is why it failed. */
export function egressDenial(err: unknown): EgressDeniedError | undefined {
  for (let e = err as { cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (e instanceof EgressDeniedError) return e;
  }
  return undefined;
}

/** Deployment-config check of an allow list: every entry a CIDR such as 10.0.0.0/8 or fd00::/8. */
export function checkEgressAllow(problems: ConfigProblem[], value: unknown, path = 'egressAllow'): void {
  if (!Array.isArray(value)) {
    problems.push({ path, message: 'must be a list of CIDRs such as 10.0.0.0/8' });
    return;
  }
  value.forEach((c, i) => {
    try {
      ipaddr.parseCIDR(String(c));
    } catch {
      problems.push({ path: `${path}.${i}`, message: `must be a CIDR such as 10.0.0.0/8 or fd00::/8 (got ${JSON.stringify(c)})` });
    }
  });
}
