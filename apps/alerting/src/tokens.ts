import type { AlertingConfig } from './config';

/** The part of the config the aggregates consumer needs. */
export const CONSUMER_OPTIONS = Symbol('CONSUMER_OPTIONS');
export type ConsumerOptions = Pick<AlertingConfig, 'ALERTING_GROUP_ID'>;
