// Sums jest --json result files into one closing line: "tests: N passed, N failed".
const fs = require('node:fs');
let passed = 0, failed = 0, missing = 0;
for (const file of process.argv.slice(2)) {
  if (!fs.existsSync(file)) { missing++; console.log(`summary: ${file} missing (that run crashed)`); continue; }
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests + (r.numRuntimeErrorTestSuites || 0);
}
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || missing > 0 || passed === 0 ? 1 : 0);
