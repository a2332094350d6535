export * from './database.module';
export * from './transaction';
export * from './subject-erasure-log';
