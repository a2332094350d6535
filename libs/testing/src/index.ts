export * from './expect-eventually';
export * from './slack-mock';
export * from './service-process';
export * from './infra';
export * from './local-stack';
export * from './manual-sink';
export * from './telemetry-records';
