// promtool on the shipped Prometheus files: the config and rules load, and the alert rule unit tests pass (skipped, with the reason, without promtool).
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { findBinary } from '../test/helpers/binaries.ts';

const run = promisify(execFile);
// promtool is a large Go binary: on a loaded 2-core machine one run took ~5 s in CI, past vitest's default.
const PROMTOOL_TIMEOUT_MS = 60_000;

const promtool = findBinary('promtool', 'PROMTOOL_BIN');
if (!promtool) console.warn('[deploy] promtool not found (apt-get install prometheus, or set PROMTOOL_BIN): rule checks skipped');

describe.skipIf(!promtool)('Prometheus files (promtool)', () => {
  const tool = promtool as string;

  it('checks the alert rules', async () => {
    const { stdout } = await run(tool, ['check', 'rules', 'deploy/prometheus/spanda.rules.yml']);
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  }, PROMTOOL_TIMEOUT_MS);

  it('passes the alert rule unit tests (DLQ non-empty, lag growing, freshness burn, projector stalled, error rates)', async () => {
    const { stdout } = await run(tool, ['test', 'rules', 'deploy/prometheus/spanda.rules.test.yml']);
    expect(stdout).toMatch(/SUCCESS/);
  }, PROMTOOL_TIMEOUT_MS);

  it('checks the compose Prometheus config with its rule file', async () => {
    // Relative rule_files resolve against the config's directory, as in the container (/etc/prometheus).
    const dir = await mkdtemp(path.join(os.tmpdir(), 'spanda-promcfg-'));
    try {
      await copyFile('deploy/prometheus/spanda.rules.yml', path.join(dir, 'spanda.rules.yml'));
      await writeFile(path.join(dir, 'prometheus.yml'), await readFile('deploy/prometheus/prometheus.yml', 'utf8'));
      const { stdout } = await run(tool, ['check', 'config', path.join(dir, 'prometheus.yml')]);
      expect(stdout).toMatch(/SUCCESS/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, PROMTOOL_TIMEOUT_MS);
});
