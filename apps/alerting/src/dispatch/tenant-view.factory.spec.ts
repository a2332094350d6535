import { AlertConfigRecordSchema, type AlertConfigRecord, type AlertRoutingInput } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import type { Logger } from '@headroom/runtime';
import { sealReceiverSecrets } from '@headroom/tenancy';
import { ChannelRegistry } from '../channels/registry';
import { webhookChannel } from '../channels/webhook/webhook.channel';
import { buildTenantView } from './tenant-view.factory';

const kek = KeyEncryptionKey.generate();
const keyring = new TenantKeyring(kek);
for (const t of ['label-a', 'label-b']) keyring.add(createWrappedKey(kek, t, 'data', 1));

const hookSecret = 'whsec-0123456789abcdef';
const routing: AlertRoutingInput = {
  route: { receiver: 'team' },
  receivers: [
    {
      name: 'team',
      webhook_configs: [
        { url: 'https://hooks.example.com/a', secret: hookSecret },
        { url: 'https://hooks.example.com/b', secret: 'whsec-fedcba9876543210' },
      ],
    },
  ],
};
const configOf = (tenant: string, r: AlertRoutingInput): AlertConfigRecord =>
  AlertConfigRecordSchema.parse({ kind: 'alert_config', tenant, rules: [], routing: r, updatedAt: '2026-01-01T00:00:00Z' });

function capturingLogger() {
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  const logger = { warn: (fields: Record<string, unknown>, message: string) => warnings.push({ fields, message }), info: () => undefined, error: () => undefined, debug: () => undefined };
  return { logger: logger as unknown as Logger, warnings };
}

const channels = new ChannelRegistry().register(webhookChannel);
const sealedRouting = (tenant = 'label-a') => sealReceiverSecrets(routing, tenant, keyring);
const webhooks = (r: AlertRoutingInput) => r.receivers[0]!.webhook_configs! as Record<string, unknown>[];

describe('buildTenantView: sealed receiver secrets', () => {
  it('opens a sealed webhook secret into the plaintext target', () => {
    const sealed = sealedRouting();
    expect(webhooks(sealed)[0]!['secret']).toMatch(/^sealed:v1:1:/);
    const { logger, warnings } = capturingLogger();
    const view = buildTenantView(undefined, configOf('label-a', sealed), channels, logger, keyring);
    expect(view.integrations('team')).toEqual([
      { channel: 'webhook', index: 0, target: { url: 'https://hooks.example.com/a', secret: hookSecret } },
      { channel: 'webhook', index: 1, target: { url: 'https://hooks.example.com/b', secret: 'whsec-fedcba9876543210' } },
    ]);
    expect(warnings).toEqual([]);
  });

  it('takes a plain secret as it is (configs published before sealing)', () => {
    const { logger } = capturingLogger();
    const view = buildTenantView(undefined, configOf('label-a', routing), channels, logger, keyring);
    expect(view.integrations('team')?.map((i) => i.target)).toEqual(webhooks(routing));
  });

  it('skips an integration whose secret was tampered with, naming tenant, receiver and path but not the value; keeps the others', () => {
    const sealed = sealedRouting();
    const value = webhooks(sealed)[0]!['secret'] as string;
    const blob = Buffer.from(value.split(':')[3]!, 'base64');
    blob[20]! ^= 0x01;
    const tampered = `sealed:v1:1:${blob.toString('base64')}`;
    webhooks(sealed)[0]!['secret'] = tampered;
    const { logger, warnings } = capturingLogger();
    const view = buildTenantView(undefined, configOf('label-a', sealed), channels, logger, keyring);
    expect(view.integrations('team')).toEqual([{ channel: 'webhook', index: 1, target: { url: 'https://hooks.example.com/b', secret: 'whsec-fedcba9876543210' } }]);
    expect(warnings).toEqual([
      { fields: { tenant: 'label-a', receiver: 'team', path: 'receivers.0.webhook_configs.0.secret', code: 'integrity' }, message: expect.stringContaining('integration skipped') },
    ]);
    expect(JSON.stringify(warnings)).not.toContain(tampered);
    expect(JSON.stringify(warnings)).not.toContain(hookSecret);
  });

  it("skips another tenant's sealed secret copied into this tenant's config", () => {
    const { logger, warnings } = capturingLogger();
    const view = buildTenantView(undefined, configOf('label-b', sealedRouting('label-a')), channels, logger, keyring);
    expect(view.integrations('team')).toEqual([]);
    expect(warnings.map((w) => w.fields['path'])).toEqual(['receivers.0.webhook_configs.0.secret', 'receivers.0.webhook_configs.1.secret']);
  });
});
