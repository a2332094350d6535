export * from './logger';
export * from './readiness';
export * from './tokens';
export * from './health.controller';
export * from './runtime.module';
export * from './bootstrap';
export * from './request-validation';
export * from './http-error.filter';
