export * from './kafka-env';
export * from './load-config';
