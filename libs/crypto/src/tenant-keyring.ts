import { createHmac, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import { open, seal } from './aes-gcm';
import {
  CryptoConfigError,
  IntegrityError,
  KeyIntegrityError,
  KeyRetiredError,
  TenantDestroyedError,
  UnknownTenantKeyError,
} from './errors';
import { KeyEncryptionKey } from './key-encryption-key';
import { encodeRecordAad, RecordAad } from './record-aad';
import { isKeyVersion, KeyPurpose, unwrapKey, WrappedKey } from './wrapped-key';

interface TenantKeys {
  keys: Record<KeyPurpose, Map<number, Buffer>>;
  /** Retired 'data' versions. Kept even if the key never arrived, so a late add() cannot resurrect one. */
  retired: Set<number>;
}

/**
 * A service's in-memory view of tenant keys, fed from the control topic. Holds unwrapped keys,
 * so it never serialises or inspects them (toJSON / inspect show counts only).
 */
export class TenantKeyring {
  private readonly tenants = new Map<string, TenantKeys>();
  /** Shredded tenants. Remembered for the process lifetime so a replayed add() cannot bring one back. */
  private readonly destroyed = new Set<string>();
  private readonly keks: ReadonlyMap<string, KeyEncryptionKey>;

  /**
   * `previous`: KEKs being rotated out (HEADROOM_KEK_PREVIOUS). During a KEK rotation the control
   * topic holds keys wrapped under both until control has re-wrapped every one, so each key is
   * unwrapped under whichever KEK its `kekId` names.
   */
  constructor(
    private readonly kek: KeyEncryptionKey,
    previous: readonly KeyEncryptionKey[] = [],
  ) {
    const keks = new Map<string, KeyEncryptionKey>([[kek.id, kek]]);
    for (const p of previous) {
      if (keks.has(p.id)) throw new CryptoConfigError(`KEK id "${p.id}" is given twice: the previous KEK needs its own id`);
      keks.set(p.id, p);
    }
    this.keks = keks;
  }

  /** Unwraps and stores a key. Idempotent for the same version; a different key under the same label is refused. */
  add(key: WrappedKey): void {
    if (typeof key?.tenant === 'string' && this.destroyed.has(key.tenant)) {
      throw new TenantDestroyedError(`tenant "${key.tenant}" was destroyed; refusing its ${key.purpose} key v${key.version}`);
    }
    const raw = unwrapKey(this.kekFor(key), key);
    const entry = this.entry(key.tenant);
    const slot = entry.keys[key.purpose];
    const existing = slot.get(key.version);
    if (existing) {
      const same = timingSafeEqual(existing, raw);
      raw.fill(0);
      if (!same) {
        throw new KeyIntegrityError(`conflicting ${key.purpose} key v${key.version} for tenant "${key.tenant}"`);
      }
      return;
    }
    if (key.purpose === 'data' && entry.retired.has(key.version)) {
      raw.fill(0); // arrived after its retirement (e.g. control topic replay): nothing to keep
      return;
    }
    slot.set(key.version, raw);
  }

  /** Crypto-shredding: zeroise and forget every key of the tenant; later add() for it is refused. */
  destroy(tenant: string): void {
    const entry = this.tenants.get(tenant);
    if (entry) {
      for (const slot of Object.values(entry.keys)) {
        for (const raw of slot.values()) raw.fill(0);
        slot.clear();
      }
      this.tenants.delete(tenant);
    }
    this.destroyed.add(tenant);
  }

  /** The 'data' key `version` no longer decrypts (or encrypts). Pseudonym keys are not affected. */
  retire(tenant: string, version: number): void {
    if (!isKeyVersion(version)) throw new CryptoConfigError(`key version must be an integer in 1..2^32-1, got ${version}`);
    if (this.destroyed.has(tenant)) return; // already beyond retirement
    const entry = this.entry(tenant);
    entry.retired.add(version);
    entry.keys.data.get(version)?.fill(0);
    entry.keys.data.delete(version);
  }

  /** True if the tenant has at least one usable key and was not destroyed. */
  hasTenant(tenant: string): boolean {
    const entry = this.tenants.get(tenant);
    return !!entry && (entry.keys.data.size > 0 || entry.keys.pseudonym.size > 0);
  }

  /**
   * Highest 'data' version known, retired or not. If that one is retired, encrypt() fails
   * rather than silently falling back to an older key: the fix is to add a newer version.
   */
  currentVersion(tenant: string): number | undefined {
    const entry = this.tenants.get(tenant);
    if (!entry) return undefined;
    const versions = [...entry.keys.data.keys(), ...entry.retired];
    return versions.length > 0 ? Math.max(...versions) : undefined;
  }

  encrypt(aad: RecordAad, plaintext: Buffer): { keyVersion: number; ciphertext: Buffer } {
    this.assertNotDestroyed(aad.tenant);
    const keyVersion = this.currentVersion(aad.tenant);
    if (keyVersion === undefined) throw new UnknownTenantKeyError(`no data key for tenant "${aad.tenant}" yet`);
    const key = this.dataKey(aad.tenant, keyVersion);
    return { keyVersion, ciphertext: seal(key, encodeRecordAad(aad, keyVersion), plaintext) };
  }

  decrypt(aad: RecordAad, keyVersion: number, ciphertext: Buffer): Buffer {
    this.assertNotDestroyed(aad.tenant);
    // A version no key can ever have is a corrupt header, not a key still in transit: permanent.
    if (!isKeyVersion(keyVersion)) throw new IntegrityError(`invalid key version ${keyVersion}`);
    const key = this.dataKey(aad.tenant, keyVersion);
    const plaintext = open(key, encodeRecordAad(aad, keyVersion), ciphertext);
    if (!plaintext) {
      throw new IntegrityError(
        `record failed authentication for tenant "${aad.tenant}", topic "${aad.topic}", schema "${aad.schema}", key v${keyVersion}`,
      );
    }
    return plaintext;
  }

  /** Keyed HMAC-SHA256 under the tenant's highest 'pseudonym' key: stable per tenant, unlinkable across tenants. */
  pseudonymise(tenant: string, userId: string): string {
    this.assertNotDestroyed(tenant);
    const slot = this.tenants.get(tenant)?.keys.pseudonym;
    if (!slot || slot.size === 0) throw new UnknownTenantKeyError(`no pseudonym key for tenant "${tenant}" yet`);
    const key = slot.get(Math.max(...slot.keys())) as Buffer;
    return `u_${createHmac('sha256', key).update(userId, 'utf8').digest('base64url')}`;
  }

  /**
   * HMAC-SHA256 (hex) of `value` under the 'pseudonym' key `version` of `label` — a fixed version,
   * for a stored digest that must keep verifying after newer versions exist (API keys' hashes).
   */
  hmac(label: string, version: number, value: string): string {
    this.assertNotDestroyed(label);
    const key = this.tenants.get(label)?.keys.pseudonym.get(version);
    if (!key) throw new UnknownTenantKeyError(`no HMAC key v${version} for "${label}" yet`);
    return createHmac('sha256', key).update(value, 'utf8').digest('hex');
  }

  /** The highest 'pseudonym' version of `label`, if any (the one new digests use). */
  latestHmacVersion(label: string): number | undefined {
    const slot = this.tenants.get(label)?.keys.pseudonym;
    return slot && slot.size > 0 ? Math.max(...slot.keys()) : undefined;
  }

  toJSON(): { tenants: number; destroyed: number } {
    return { tenants: this.tenants.size, destroyed: this.destroyed.size };
  }

  [inspect.custom](): string {
    return `TenantKeyring { kek: ${JSON.stringify(this.kek.id)}, keks: ${JSON.stringify([...this.keks.keys()])}, tenants: ${this.tenants.size}, destroyed: ${this.destroyed.size} }`;
  }

  /** The KEK the key names, or the current one (unwrapKey then says which KEK it needed). */
  private kekFor(key: WrappedKey): KeyEncryptionKey {
    const id = (key as Partial<WrappedKey> | undefined)?.kekId;
    return (typeof id === 'string' && this.keks.get(id)) || this.kek;
  }

  private entry(tenant: string): TenantKeys {
    let entry = this.tenants.get(tenant);
    if (!entry) {
      entry = { keys: { data: new Map(), pseudonym: new Map() }, retired: new Set() };
      this.tenants.set(tenant, entry);
    }
    return entry;
  }

  private assertNotDestroyed(tenant: string): void {
    if (this.destroyed.has(tenant)) throw new TenantDestroyedError(`tenant "${tenant}" was destroyed`);
  }

  private dataKey(tenant: string, version: number): Buffer {
    const entry = this.tenants.get(tenant);
    if (entry?.retired.has(version)) throw new KeyRetiredError(`data key v${version} of tenant "${tenant}" is retired`);
    const key = entry?.keys.data.get(version);
    if (!key) throw new UnknownTenantKeyError(`data key v${version} of tenant "${tenant}" is not known (yet)`);
    return key;
  }
}
