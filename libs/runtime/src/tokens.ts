/** Injection tokens for the runtime's shared objects. */
export const LOGGER = Symbol('LOGGER');
export const METRICS = Symbol('METRICS');
export const READINESS = Symbol('READINESS');
export const SERVICE_NAME = Symbol('SERVICE_NAME');
/** The bearer token /metrics requires (string | undefined). */
export const METRICS_TOKEN = Symbol('METRICS_TOKEN');
