// Turns tsconfig.base.json "paths" into Jest moduleNameMapper entries, so both resolve imports the same way.
const path = require('node:path');
const base = require('../../tsconfig.base.json');

function pathsToModuleNameMapper() {
  const root = path.resolve(__dirname, '../..');
  const out = {};
  for (const [alias, targets] of Object.entries(base.compilerOptions.paths)) {
    out[`^${alias.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`] = path.join(root, targets[0]);
  }
  return out;
}

module.exports = { pathsToModuleNameMapper };
