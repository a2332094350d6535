// End-to-end specs (*.e2e-spec.ts): drive the five running services from outside.
module.exports = {
  ...require('./jest.preset.js'),
  rootDir: '.',
  roots: ['<rootDir>/e2e'],
  testMatch: ['**/*.e2e-spec.ts'],
  testTimeout: 180_000,
};
