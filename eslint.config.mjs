// Lint rules that hold the architecture in place (see docs/architecture.md):
// - @nx/enforce-module-boundaries: apps use libs; contracts depend on nothing of ours;
//   detectors belong to analytics; only specs import the testing library.
// - kafkajs is imported only inside libs/kafka, so the client can be swapped in one place.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const depConstraints = [
  { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: [] },
  { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:contracts', 'type:domain'] },
  { sourceTag: 'type:infra', onlyDependOnLibsWithTags: ['type:contracts', 'type:domain', 'type:infra'] },
  { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:contracts', 'type:domain', 'type:infra'] },
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:contracts', 'type:domain', 'type:infra', 'type:testing'] },
  { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:contracts', 'type:domain', 'type:infra', 'type:testing'] },
  { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
  { sourceTag: 'scope:analytics', onlyDependOnLibsWithTags: ['scope:shared', 'scope:analytics'] },
  { sourceTag: 'scope:collectors', onlyDependOnLibsWithTags: ['scope:shared', 'scope:collectors'] },
  { sourceTag: 'scope:alerting', onlyDependOnLibsWithTags: ['scope:shared', 'scope:alerting'] },
  { sourceTag: 'scope:exporters', onlyDependOnLibsWithTags: ['scope:shared', 'scope:exporters'] },
  { sourceTag: 'scope:control', onlyDependOnLibsWithTags: ['scope:shared', 'scope:control'] },
  { sourceTag: 'scope:tools', onlyDependOnLibsWithTags: ['scope:shared', 'scope:analytics', 'scope:tools'] },
];

// Specs of libraries may use the testing library's doubles and helpers, as apps' specs do (production
// code still may not: see the no-restricted-imports block below).
const specDepConstraints = depConstraints.map((c) =>
  c.sourceTag === 'type:infra' || c.sourceTag === 'type:domain' ? { ...c, onlyDependOnLibsWithTags: [...c.onlyDependOnLibsWithTags, 'type:testing'] } : c,
);

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', 'tmp/**', 'results/**', '.nx/**', 'tools/kafka/target/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints,
        },
      ],
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'kafkajs', message: 'Only libs/kafka may import kafkajs: use @headroom/kafka.' }] },
      ],
    },
  },
  {
    files: ['libs/**/*.spec.ts', 'libs/**/*.int-spec.ts'],
    ignores: ['libs/testing/**'],
    rules: { '@nx/enforce-module-boundaries': ['error', { enforceBuildableLibDependency: false, allow: [], depConstraints: specDepConstraints }] },
  },
  {
    // The one place that talks to the Kafka client.
    files: ['libs/kafka/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Production code never imports the testing library; specs and end-to-end drivers may.
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts', 'libs/testing/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'kafkajs', message: 'Only libs/kafka may import kafkajs: use @headroom/kafka.' },
            { name: '@headroom/testing', message: 'Only specs import @headroom/testing.' },
          ],
        },
      ],
    },
  },
  {
    files: ['libs/kafka/**/*.ts'],
    ignores: ['**/*.spec.ts', '**/*.int-spec.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: '@headroom/testing', message: 'Only specs import @headroom/testing.' }] }],
    },
  },
];
