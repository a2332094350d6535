// Unit specs (*.spec.ts): pure, no servers.
module.exports = {
  ...require('./jest.preset.js'),
  rootDir: '.',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/tools'],
  testMatch: ['**/*.spec.ts'],
};
