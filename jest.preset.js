// Shared Jest settings: SWC transpiles TypeScript (with decorator metadata, which NestJS DI needs);
// type errors are caught by `npm run typecheck`, not by the test runner.
const { pathsToModuleNameMapper } = require('./tools/test/paths');

module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          target: 'es2022',
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: pathsToModuleNameMapper(),
};
