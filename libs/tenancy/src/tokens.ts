export const KAFKA = Symbol('KAFKA');
export const KEYRING = Symbol('KEYRING');
export const PUBLISHER = Symbol('PUBLISHER');
export const KAFKA_METRICS = Symbol('KAFKA_METRICS');
