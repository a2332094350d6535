/**
 * Tenant partitioning: the record key is the tenant id, so each tenant's records are ordered on one
 * partition. A tenant with `shards > 1` uses `tenant#k`, k chosen from a hash of the series, so each
 * series still stays ordered while the tenant spreads over up to `shards` partitions.
 */
export function recordKey(tenant: string, shards = 1, shardBy?: string): string {
  if (shards <= 1 || shardBy === undefined) return tenant;
  return `${tenant}#${fnv1a32(shardBy) % shards}`;
}

/** The tenant a record key belongs to, or undefined when the key is not a tenant key. */
export function tenantOfKey(key: string | null): string | undefined {
  if (!key) return undefined;
  const hash = key.indexOf('#');
  const tenant = hash === -1 ? key : key.slice(0, hash);
  if (hash !== -1 && !/^\d+$/.test(key.slice(hash + 1))) return undefined;
  return tenant || undefined;
}

/** FNV-1a (32-bit): tiny, stable across processes and versions, good enough spread for shard choice. */
export function fnv1a32(input: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < input.length; i++) {
    h ^= input.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
