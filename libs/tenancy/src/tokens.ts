export const KAFKA = Symbol('KAFKA');
export const KEYRING = Symbol('KEYRING');
export const PUBLISHER = Symbol('PUBLISHER');
export const KAFKA_METRICS = Symbol('KAFKA_METRICS');
/** `() => Promise<void>`: resolves once this service has applied the control topic up to its current end. */
export const CONTROL_SYNC = Symbol('CONTROL_SYNC');
/** `() => Promise<void>`: resolves once the control topic has been read up to where it was at start. */
export const CONTROL_READY = Symbol('CONTROL_READY');
export const TENANCY_SERVICE = Symbol('TENANCY_SERVICE');
/** Control only: the `SigningClock` its publisher signs control records with (the outbox relay sets its floor). */
export const SIGNING_CLOCK = Symbol('SIGNING_CLOCK');
