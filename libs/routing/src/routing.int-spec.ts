/**
 * Alertmanager itself is the oracle: for every tree of a hand-written corpus and several label sets
 * each, `amtool config routes test` (Debian's prometheus-alertmanager, installed by
 * `npm run infra:up`) must name the same receivers, in the same order, as compileRoutes().match().
 * Matcher syntax is held to `amtool check-config` the same way.
 */
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlertRoutingSchema, parseMatchers, type AlertRouteConfig } from '@headroom/contracts';
import { formatMatcher } from './matchers';
import { compileRoutes } from './route-tree';

type Labels = Record<string, string>;

const r = (receiver: string | undefined, matchers: string[], extra: Partial<AlertRouteConfig> = {}): AlertRouteConfig => ({
  ...(receiver ? { receiver } : {}),
  matchers,
  ...extra,
});
const root = (...routes: AlertRouteConfig[]): AlertRouteConfig => ({ receiver: 'default', routes });

/** [name, tree, hand-picked label sets] */
const CORPUS: [string, AlertRouteConfig, Labels[]][] = [
  ['root only', { receiver: 'default' }, [{}]],
  ['flat, first match wins', root(r('db', ['team="db"']), r('web', ['team="web"']), r('db-again', ['team="db"'])), [{ team: 'db' }, { team: 'web' }]],
  [
    'nested severities under a team',
    root(r('db', ['team="db"'], { routes: [r('db-page', ['severity="critical"']), r('db-warn', ['severity="warning"'])] }), r('ops', ['team="ops"'])),
    [{ team: 'db', severity: 'critical' }, { team: 'db', severity: 'info' }, { team: 'ops', severity: 'critical' }],
  ],
  [
    'continue chain',
    root(r('pager', ['severity="critical"'], { continue: true }), r('db', ['team="db"']), r('catchall', ['team=~".*"'])),
    [{ severity: 'critical', team: 'db' }, { severity: 'critical' }, { team: 'web' }],
  ],
  ['every child continues', root(r('a', ['env="prod"'], { continue: true }), r('b', ['team="db"'], { continue: true }), r('c', ['severity!="info"'], { continue: true })), [{ env: 'prod', team: 'db', severity: 'warning' }, { severity: 'info' }]],
  ['regex matchers', root(r('dbweb', ['team=~"db|web"']), r('disk', ['alertname=~"Disk.*"']), r('node', ['alertname=~"(?i)node.*"'])), [{ alertname: 'NodeDown' }, { alertname: 'DiskFull', team: 'dbweb' }]],
  ['negative matchers', root(r('nonprod', ['env!="prod"']), r('low', ['severity!~"critical|warning"'])), [{ env: 'prod', severity: 'info' }, { env: 'prod', severity: 'critical' }, {}]],
  [
    'receiver inheritance',
    root(r('db', ['team="db"'], { routes: [r(undefined, ['severity="critical"'], { continue: true }), r('db-prod', ['env="prod"']), r(undefined, ['region="eu-west"'])] })),
    [{ team: 'db', severity: 'critical', env: 'prod' }, { team: 'db', region: 'eu-west' }, { team: 'db' }],
  ],
  [
    'five levels deep',
    root(r('l1', ['env=~"prod|staging"'], { routes: [r('l2', ['team!="ops"'], { routes: [r(undefined, ['severity=~"critical|warning"'], { routes: [r('l4', ['region="eu-west"'], { routes: [r('l5', ['alertname="DiskFull"'])] })] })] })] })),
    [{ env: 'prod', team: 'db', severity: 'critical', region: 'eu-west', alertname: 'DiskFull' }, { env: 'prod', team: 'db', severity: 'critical', region: 'eu-west' }, { env: 'staging', team: 'db', severity: 'critical' }],
  ],
  ['several matchers are ANDed', root(r('both', ['team="db"', 'env="prod"']), r('team', ['team="db"'])), [{ team: 'db', env: 'prod' }, { team: 'db', env: 'dev' }]],
  ['several matchers on one line', root(r('both', ['team="db", env="prod"']), r('braces', ['{severity="critical",region=~"eu-.*"}'])), [{ team: 'db', env: 'prod' }, { severity: 'critical', region: 'eu-west' }]],
  ['classic unquoted form', root(r('db', ['team=db']), r('notprod', ['env!=prod']), r('re', ['alertname=~Disk.*'])), [{ team: 'db' }, { env: 'dev' }, { env: 'prod', alertname: 'DiskFull' }]],
  ['missing and empty labels', root(r('noregion', ['region=""'], { continue: true }), r('hasregion', ['region!=""'], { continue: true }), r('nonempty', ['region=~".+"'])), [{}, { region: 'us-east' }, { region: '' }]],
  [
    'continuing parent without matching child matches itself',
    root(r('parent', ['team="db"'], { continue: true, routes: [r('child', ['severity="critical"'])] }), r('after', ['env="prod"'])),
    [{ team: 'db', env: 'prod' }, { team: 'db', severity: 'critical', env: 'prod' }, { env: 'prod' }],
  ],
  [
    'sibling after a continuing subtree',
    root(r('sub', ['env="prod"'], { continue: true, routes: [r('sub-db', ['team="db"'], { continue: true }), r('sub-web', ['team=~"web|db"'])] }), r('sibling', ['severity="critical"'])),
    [{ env: 'prod', team: 'db', severity: 'critical' }, { env: 'prod', severity: 'critical' }],
  ],
  ['regexes are fully anchored', root(r('partial', ['alertname=~"Disk"']), r('suffix', ['alertname=~".*Full"']), r('infix', ['team=~"e"'])), [{ alertname: 'DiskFull' }, { alertname: 'Disk' }, { team: 'web' }]],
  ['negative regex on a missing label', root(r('notdb', ['team!~"db"']), r('missing-ok', ['team!~".+"'])), [{}, { team: 'db' }]],
  ['empty routes list', { receiver: 'default', routes: [] }, [{ team: 'db' }]],
  ['fallthrough past deep non-matching subtrees', root(r('a', ['team="db"'], { routes: [r('a1', ['env="prod"'])] }), r('b', ['team="web"'], { routes: [r('b1', ['env="prod"'])] })), [{ team: 'ops', env: 'prod' }, { team: 'web', env: 'dev' }]],
  [
    'several matches at several levels',
    root(
      r('t-db', ['team="db"'], { continue: true, routes: [r('crit', ['severity="critical"'], { continue: true }), r('prod', ['env="prod"'], { continue: true }), r('eu', ['region="eu-west"'])] }),
      r('sev', ['severity=~"critical|warning"'], { continue: true }),
      r('last', ['alertname=~".+"']),
    ),
    [{ team: 'db', severity: 'critical', env: 'prod', region: 'eu-west', alertname: 'NodeDown' }, { team: 'db' }],
  ],
  ['non-continuing after a non-matching continuing', root(r('c', ['env="dev"'], { continue: true }), r('stop', ['team="db"']), r('never-after-db', ['team=~"db|web"'])), [{ team: 'db', env: 'dev' }, { team: 'web' }]],
  ['regex alternation and classes', root(r('p', ['env=~"prod|stag.*"']), r('digits', ['alertname=~"[A-Z][a-z]+[A-Z].*"'])), [{ env: 'staging' }, { env: 'stage' }, { alertname: 'HighCpu' }]],
  [
    'matching node with no matching child is the match',
    root(r('sev', ['severity=~"critical|warning"'], { routes: [r('eu', ['region="eu-west"']), r('us', ['region="us-east"'])] })),
    [{ severity: 'warning' }, { severity: 'warning', region: 'us-east' }],
  ],
  ['escaped quotes and commas in values', root(r('hi', ['msg="say \\"hi\\", please"']), r('bs', ['path="C:\\\\tmp"'])), [{ msg: 'say "hi", please' }, { msg: 'say hi' }, { path: 'C:\\tmp' }]],
  ['not-equal empty', root(r('hasteam', ['team!=""']), r('noteam', ['team=""'])), [{}, { team: 'ops' }]],
  [
    'team × severity matrix',
    root(
      ...['db', 'web', 'api'].map((team) =>
        r(team, [`team="${team}"`], { continue: team === 'web', routes: [r(`${team}-crit`, ['severity="critical"'], { continue: true }), r(`${team}-prod`, ['env="prod"'])] }),
      ),
      r('ops', ['team="ops"']),
    ),
    [{ team: 'web', severity: 'critical', env: 'prod' }, { team: 'api', env: 'prod' }],
  ],
  ['repeated identical siblings', root(r('one', ['team="db"'], { continue: true }), r('two', ['team="db"'], { continue: true }), r('one', ['team="db"'])), [{ team: 'db' }]],
  [
    'mixed depth with inheritance and continue',
    root(r('outer', ['env!="dev"'], { continue: true, routes: [r(undefined, ['team=~"db|api"'], { continue: true, routes: [r('inner', ['severity="critical"'])] }), r('ops-inner', ['team="ops"'])] }), r('tail', ['severity!="info"'])),
    [{ env: 'prod', team: 'db', severity: 'critical' }, { env: 'prod', team: 'ops' }, { env: 'dev', severity: 'warning' }],
  ],
];

const VOCABULARY: Record<string, string[]> = {
  alertname: ['HighCpu', 'DiskFull', 'NodeDown', 'Disk'],
  severity: ['critical', 'warning', 'info'],
  team: ['db', 'web', 'api', 'ops'],
  env: ['prod', 'staging', 'dev'],
  region: ['eu-west', 'us-east'],
};
const RANDOM_SETS_PER_TREE = 6;

// mulberry32: the same label sets on every run, so a failure can be reproduced.
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomLabelSets(seed: number, n: number): Labels[] {
  const rnd = prng(seed);
  return Array.from({ length: n }, () => {
    const labels: Labels = {};
    for (const [name, values] of Object.entries(VOCABULARY)) if (rnd() < 0.7) labels[name] = values[Math.floor(rnd() * values.length)] as string;
    return labels;
  });
}

function receiverNames(route: AlertRouteConfig, out = new Set<string>()): Set<string> {
  if (route.receiver) out.add(route.receiver);
  for (const child of route.routes ?? []) receiverNames(child, out);
  return out;
}

function amtool(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('amtool', args, { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Runs the tasks two at a time: the machine has 2 cores, shared with the other specs. */
async function pool<T>(tasks: (() => Promise<T>)[], width = 2): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await (tasks[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

interface Case {
  readonly tree: number;
  readonly labels: Labels;
  amtool?: string;
}

let dir: string;
let amtoolVersion: string;
const cases: Case[] = CORPUS.flatMap(([, , picked], tree) => [...picked, ...randomLabelSets(1000 + tree, RANDOM_SETS_PER_TREE)].map((labels) => ({ tree, labels })));

const writeConfig = (name: string, route: AlertRouteConfig): string => {
  const file = path.join(dir, `${name}.yml`);
  const receivers = [...receiverNames(route, new Set(['default']))].map((n) => ({ name: n }));
  // JSON is YAML; Alertmanager only needs the tree and the receivers' names.
  fs.writeFileSync(file, JSON.stringify({ route, receivers }));
  return file;
};

beforeAll(async () => {
  const probe = spawnSync('amtool', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`amtool is not installed (${probe.error?.message ?? probe.stderr}): run \`npm run infra:up\`, which installs Debian's prometheus-alertmanager package`);
  }
  amtoolVersion = (probe.stdout || probe.stderr).split('\n')[0] as string;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'routing-oracle-'));
  const files = CORPUS.map(([, route], i) => writeConfig(`tree-${i}`, route));
  const outputs = await pool(
    cases.map((c) => async () => {
      const args = Object.entries(c.labels).map(([name, value]) => formatMatcher({ name, type: '=', value }));
      const res = await amtool(['config', 'routes', 'test', `--config.file=${files[c.tree]}`, ...args]);
      if (res.code !== 0) throw new Error(`amtool failed on tree "${CORPUS[c.tree]?.[0]}" with ${JSON.stringify(c.labels)}: ${res.stderr}`);
      return res.stdout.trim();
    }),
  );
  outputs.forEach((out, i) => ((cases[i] as Case).amtool = out));
}, 60_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe(`compileRoutes against amtool`, () => {
  it('runs a corpus large enough to mean something', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(25);
    expect(cases.length).toBeGreaterThanOrEqual(150);
    // The corpus exercises fallthrough to the root and several receivers per alert, not only one shape.
    expect(cases.filter((c) => c.amtool === 'default').length).toBeGreaterThan(10);
    expect(cases.filter((c) => (c.amtool ?? '').includes(',')).length).toBeGreaterThan(10);
    expect(amtoolVersion).toMatch(/^amtool, version \d+\.\d+/);
  });

  it.each(CORPUS.map(([name], i) => [name, i] as const))('%s: same receivers, same order', (_name, tree) => {
    const compiled = compileRoutes(CORPUS[tree]![1]);
    const mine = cases.filter((c) => c.tree === tree).map((c) => ({ labels: c.labels, receivers: compiled.match(c.labels).map((m) => m.receiver).join(',') }));
    const theirs = cases.filter((c) => c.tree === tree).map((c) => ({ labels: c.labels, receivers: c.amtool }));
    expect(mine).toEqual(theirs);
  });

  it('accepts every corpus tree as a routing config', () => {
    for (const [name, route] of CORPUS) {
      const receivers = [...receiverNames(route, new Set(['default']))].map((n) => ({ name: n }));
      const parsed = AlertRoutingSchema.safeParse({ route, receivers });
      expect({ name, issues: parsed.success ? [] : parsed.error.issues }).toEqual({ name, issues: [] });
    }
  });
});

describe('matcher syntax against amtool check-config', () => {
  const MATCHERS = [
    'a=b',
    'a="b"',
    ' a = b ',
    'a==b',
    'a=~"x|y"',
    'a!~"x.*"',
    'a!=""',
    'a:b="c"',
    '{a="1", b="2"}',
    'a="1",',
    'a="x,y"',
    'a="say \\"hi\\""',
    'a=~"(?i)x"',
    'a="back\\slash"',
    'a="x',
    'a=b"c',
    'a="x"y"',
    'a=~"("',
    '1a=b',
    'a',
    '=b',
    'a="1",,b="2"',
    'a~="x"',
  ];

  it.each(MATCHERS)('%s: accepted by both or refused by both', async (text) => {
    const file = writeConfig(`matcher-${MATCHERS.indexOf(text)}`, { receiver: 'default', routes: [{ receiver: 'default', matchers: [text] }] });
    const res = await amtool(['check-config', file]);
    expect({ text, accepted: parseMatchers(text).ok }).toEqual({ text, accepted: res.code === 0 });
  });

  it.each([
    ['root matchers', { receiver: 'default', matchers: ['a="1"'] }],
    ['root continue', { receiver: 'default', continue: true }],
    ['undefined receiver', { receiver: 'default', routes: [{ receiver: 'nobody', matchers: ['a="1"'] }] }],
  ] as const)('refuses %s, as Alertmanager does', async (_name, route) => {
    const file = path.join(dir, 'bad.yml');
    fs.writeFileSync(file, JSON.stringify({ route, receivers: [{ name: 'default' }] }));
    expect((await amtool(['check-config', file])).code).not.toBe(0);
    expect(AlertRoutingSchema.safeParse({ route, receivers: [{ name: 'default' }] }).success).toBe(false);
  });
});
