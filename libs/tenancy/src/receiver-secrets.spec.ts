import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import type { AlertReceiver } from '@headroom/contracts';
import {
  hasPlainReceiverSecrets,
  openIntegrationSecrets,
  openReceiverSecrets,
  ReceiverSecretError,
  redactedSecretPaths,
  redactReceiverSecrets,
  sealReceiverSecrets,
} from './receiver-secrets';

const kek = KeyEncryptionKey.generate();
function keyringWith(...tenants: string[]): TenantKeyring {
  const keyring = new TenantKeyring(kek);
  for (const t of tenants) keyring.add(createWrappedKey(kek, t, 'data', 1));
  return keyring;
}

const secrets = { bot: 'xoxb-1111-2222-abcdef', pd: 'R0UTINGKEY0123456789abcdefabcdef', hook: 'whsec-very-secret', sms: 'sms-token-42' };
const routing = {
  receivers: [
    {
      name: 'team',
      slack_configs: [{ channel: '#api', bot_token: secrets.bot }],
      webhook_configs: [{ url: 'https://hooks.example.com/a' }, { url: 'https://hooks.example.com/b', secret: secrets.hook }],
      email_configs: [{ to: 'oncall@example.com' }],
    },
    { name: 'pager', pagerduty_configs: [{ routing_key: secrets.pd }], sms_configs: [{ url: 'https://sms.example.com', token: secrets.sms, to: ['+33600000000'] }] },
  ] as AlertReceiver[],
};
type Integration = Record<string, unknown>;
const at = (r: { receivers: AlertReceiver[] }, receiver: number, key: string, index: number) => (r.receivers[receiver] as unknown as Record<string, Integration[]>)[key]![index]!;

describe('receiver secrets', () => {
  it('seals every secret field (and nothing else), and opens back to the original', () => {
    const keyring = keyringWith('tenant-a');
    const sealed = sealReceiverSecrets(routing, 'tenant-a', keyring);
    const text = JSON.stringify(sealed);
    for (const s of Object.values(secrets)) expect(text).not.toContain(s);
    expect(at(sealed, 0, 'slack_configs', 0)['bot_token']).toMatch(/^sealed:v1:1:[A-Za-z0-9+/]+=*$/);
    expect(at(sealed, 0, 'slack_configs', 0)['channel']).toBe('#api');
    expect(at(sealed, 0, 'webhook_configs', 0)).toEqual({ url: 'https://hooks.example.com/a' });
    expect(hasPlainReceiverSecrets(sealed)).toBe(false);
    expect(hasPlainReceiverSecrets(routing)).toBe(true);
    // The input is not modified.
    expect(at(routing, 0, 'slack_configs', 0)['bot_token']).toBe(secrets.bot);

    expect(openReceiverSecrets(sealed, 'tenant-a', keyring)).toEqual(routing);
    // Sealing what is sealed changes nothing.
    expect(sealReceiverSecrets(sealed, 'tenant-a', keyring)).toEqual(sealed);
  });

  it('lets a plain (unsealed) value through unchanged', () => {
    expect(openReceiverSecrets(routing, 'tenant-a', keyringWith())).toEqual(routing);
  });

  it('refuses a tampered ciphertext, naming the path and never the value', () => {
    const keyring = keyringWith('tenant-a');
    const sealed = sealReceiverSecrets(routing, 'tenant-a', keyring);
    const hook = at(sealed, 0, 'webhook_configs', 1);
    const blob = Buffer.from((hook['secret'] as string).split(':')[3]!, 'base64');
    blob[blob.length - 1]! ^= 1;
    hook['secret'] = `sealed:v1:1:${blob.toString('base64')}`;
    let error: unknown;
    try {
      openReceiverSecrets(sealed, 'tenant-a', keyring);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ReceiverSecretError);
    expect(error).toMatchObject({ path: 'receivers.0.webhook_configs.1.secret', receiver: 'team', code: 'integrity' });
    expect((error as Error).message).toContain('receivers.0.webhook_configs.1.secret');
    expect((error as Error).message).not.toContain(hook['secret'] as string);

    hook['secret'] = 'sealed:v1:1:not base64!';
    expect(() => openReceiverSecrets(sealed, 'tenant-a', keyring)).toThrow(expect.objectContaining({ code: 'malformed', path: 'receivers.0.webhook_configs.1.secret' }));
    expect(() => openReceiverSecrets(sealed, 'tenant-a', keyring)).toThrow(expect.not.objectContaining({ message: expect.stringContaining('not base64') }));
  });

  it('refuses a secret moved to another receiver, integration or field', () => {
    const keyring = keyringWith('tenant-a');
    const sealed = sealReceiverSecrets(routing, 'tenant-a', keyring);
    const hookSecret = at(sealed, 0, 'webhook_configs', 1)['secret'];
    const open = (target: Integration, place: Parameters<typeof openIntegrationSecrets>[2]) => () => openIntegrationSecrets(target, 'tenant-a', place, keyring);

    // In its own place it opens.
    expect(open({ url: 'u', secret: hookSecret }, { receiver: 'team', receiverIndex: 0, channel: 'webhook', index: 1 })()).toEqual({ url: 'u', secret: secrets.hook });
    // Another receiver, another index of the same list, another channel's field: refused.
    expect(open({ url: 'u', secret: hookSecret }, { receiver: 'pager', receiverIndex: 1, channel: 'webhook', index: 1 })).toThrow(ReceiverSecretError);
    expect(open({ url: 'u', secret: hookSecret }, { receiver: 'team', receiverIndex: 0, channel: 'webhook', index: 0 })).toThrow(ReceiverSecretError);
    expect(open({ url: 'u', token: hookSecret }, { receiver: 'team', receiverIndex: 0, channel: 'sms', index: 1 })).toThrow(ReceiverSecretError);

    // The same move inside a whole routing: pager's routing key swapped in as team's bot token.
    const swapped = structuredClone(sealed);
    at(swapped, 0, 'slack_configs', 0)['bot_token'] = at(sealed, 1, 'pagerduty_configs', 0)['routing_key'];
    expect(() => openReceiverSecrets(swapped, 'tenant-a', keyring)).toThrow(expect.objectContaining({ path: 'receivers.0.slack_configs.0.bot_token', code: 'integrity' }));
  });

  it("refuses another tenant's ciphertext, even at the same place", () => {
    const keyring = keyringWith('tenant-a', 'tenant-b');
    const ofA = sealReceiverSecrets(routing, 'tenant-a', keyring);
    expect(() => openReceiverSecrets(ofA, 'tenant-b', keyring)).toThrow(expect.objectContaining({ code: 'integrity', path: 'receivers.0.slack_configs.0.bot_token' }));
    // Without the tenant's key at all: unknown_key (may heal when the key arrives on the control topic).
    expect(() => openReceiverSecrets(ofA, 'tenant-a', keyringWith('tenant-b'))).toThrow(expect.objectContaining({ code: 'unknown_key' }));
  });

  it('redacts every secret for answers, and finds the placeholder sent back as a secret', () => {
    const redacted = redactReceiverSecrets(routing);
    const text = JSON.stringify(redacted);
    for (const s of Object.values(secrets)) expect(text).not.toContain(s);
    expect(at(redacted, 0, 'slack_configs', 0)).toEqual({ channel: '#api', bot_token: '***' });
    expect(at(redacted, 0, 'webhook_configs', 0)).toEqual({ url: 'https://hooks.example.com/a' });
    expect(redactedSecretPaths(redacted)).toEqual([
      'receivers.0.slack_configs.0.bot_token',
      'receivers.0.webhook_configs.1.secret',
      'receivers.1.pagerduty_configs.0.routing_key',
      'receivers.1.sms_configs.0.token',
    ]);
    expect(redactedSecretPaths(routing)).toEqual([]);
  });
});
