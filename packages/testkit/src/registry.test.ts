import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alive, sweepOrphans } from './registry.js';

const stateDir = mkdtempSync(join(tmpdir(), 'ballast-registry-test-'));
process.env.BALLAST_TESTKIT_STATE_DIR = stateDir;

afterAll(() => {
  delete process.env.BALLAST_TESTKIT_STATE_DIR;
  rmSync(stateDir, { recursive: true, force: true });
});

/**
 * A child that starts a long-running "server" (a `sleep` renamed so its command line says redis-server, as the
 * sweep only kills our own binaries), records it and a directory in its state file the way `track()` does, and
 * is then SIGKILLed: the next sweep must clean up after it.
 */
async function orphanedOwner(): Promise<{ ownerPid: number; serverPid: number; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-orphan-dir-'));
  const script = `
    const { spawn } = require('node:child_process');
    const { writeFileSync } = require('node:fs');
    const server = spawn('bash', ['-c', 'exec -a redis-server-fake sleep 600'], { stdio: 'ignore', detached: true });
    server.unref();
    const resources = [{ label: 'fake', pids: [server.pid], dirs: [${JSON.stringify(dir)}] }];
    writeFileSync(${JSON.stringify(stateDir)} + '/' + process.pid + '.json', JSON.stringify({ ownerPid: process.pid, resources }));
    console.log(JSON.stringify({ ownerPid: process.pid, serverPid: server.pid }));
    setInterval(() => {}, 1000);
  `;
  const owner = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve) =>
    owner.stdout.once('data', (d: Buffer) => resolve(String(d))),
  );
  const { ownerPid, serverPid } = JSON.parse(line) as { ownerPid: number; serverPid: number };
  owner.kill('SIGKILL');
  await new Promise((r) => owner.once('exit', r));
  return { ownerPid, serverPid, dir };
}

describe('registry', () => {
  it('a later start cleans up the servers and directories of an owner that was SIGKILLed', async () => {
    const { ownerPid, serverPid, dir } = await orphanedOwner();
    expect(alive(ownerPid)).toBe(false);
    expect(alive(serverPid)).toBe(true);
    expect(existsSync(dir)).toBe(true);
    expect(sweepOrphans(true)).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(serverPid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(stateDir)).toEqual([]);
  });

  it('never kills a recorded pid that no longer runs one of our server binaries', async () => {
    const { serverPid, dir } = await orphanedOwner();
    // Pretend the pid was reused: kill the fake server ourselves and start an unrelated process we own.
    process.kill(serverPid, 'SIGKILL');
    const bystander = spawn('sleep', ['30'], { stdio: 'ignore' });
    sweepOrphans(true);
    expect(alive(bystander.pid as number)).toBe(true);
    expect(existsSync(dir)).toBe(false);
    bystander.kill();
  });
});
