export * from './api-key';
export * from './tenant-directory';
export * from './tenancy.module';
export * from './tokens';
export * from './tenant-topic-consumer';
export * from './receiver-secrets';
export * from './audit-trail';
export * from './audit.interceptor';
