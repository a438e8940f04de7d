import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runProcess, startServerProcess } from '../helpers/server-process.js';

const SERVER = ['--import', 'tsx', 'src/server.ts'];

describe.runIf(userInfo().uid === 0)('npm start as root (item 15)', () => {
  it('with the data directory under a 0700 directory, keeps the data where user postgres can reach it and says where', async () => {
    // mkdtemp makes the directory 0700 and root's: user postgres cannot traverse it, as
    // with a clone under /root.
    const home = mkdtempSync(path.join(tmpdir(), 'events-root-home-'));
    const wanted = path.join(home, 'clone', '.data', 'postgres');
    let moved: string | undefined;
    try {
      const server = await startServerProcess(SERVER, { EMBEDDED_PG_DIR: wanted });
      const log = server.lines.join('\n');
      const notice =
        /user postgres cannot reach (\S+), so embedded PostgreSQL keeps its data in (\S+)"/.exec(
          log,
        );
      expect(notice?.[1]).toBe(wanted);
      moved = notice?.[2];
      expect(moved).toMatch(/^\/var\/lib\/events-analytics\/data-[0-9a-f]{12}\/postgres$/);
      expect(log).toContain(`data in ${moved}`);
      const res = await fetch(`${server.baseUrl}/healthz`);
      expect(res.status).toBe(200);
      server.proc.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      expect(existsSync(path.join(moved as string, 'PG_VERSION'))).toBe(true);
    } finally {
      rmSync(home, { recursive: true, force: true });
      if (moved) rmSync(path.dirname(moved), { recursive: true, force: true });
    }
  }, 120_000);

  it('where it cannot work, stops with one sentence saying what to do (no stack trace)', async () => {
    const run = await runProcess(SERVER, { EMBEDDED_PG_DIR: '/etc/hostname/not-a-dir/pg' });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^Embedded PostgreSQL .* set DATABASE_URL to a PostgreSQL server, .*\.$/,
      ),
    ]);
    expect(run.stderr).not.toContain('    at ');
  });
});
