export * from './ast';
export * from './parser';
export * from './evaluate';
export * from './lifecycle';
