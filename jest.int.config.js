// Integration specs (*.int-spec.ts): against the real Kafka, PostgreSQL and Redis started by `npm run infra:up`.
module.exports = {
  ...require('./jest.preset.js'),
  rootDir: '.',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/tools'],
  testMatch: ['**/*.int-spec.ts'],
  testTimeout: 60_000,
};
