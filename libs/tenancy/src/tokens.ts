export const KAFKA = Symbol('KAFKA');
export const KEYRING = Symbol('KEYRING');
export const PUBLISHER = Symbol('PUBLISHER');
export const KAFKA_METRICS = Symbol('KAFKA_METRICS');
/** `() => Promise<void>`: resolves once this service has applied the control topic up to its current end. */
export const CONTROL_SYNC = Symbol('CONTROL_SYNC');
