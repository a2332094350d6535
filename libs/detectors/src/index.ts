export * from './common/validation';
export * from './common/streaming';
export * from './seasonal/seasonal-detector';
export * from './nab-scoring/nab-scorer';
