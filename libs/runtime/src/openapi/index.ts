export * from './api-operation';
export * from './openapi-document';
export * from './controller-routes';
export * from './openapi.controller';
export * from './runtime-operations';
export * from './zod-openapi';
