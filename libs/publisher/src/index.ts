// Telemetry straight to Kafka for internal services, with the HTTP edge's rules: see docs/publisher.md.
export * from './errors';
export * from './telemetry-publisher';
export * from './telemetry-records';
