// Starts the real `syncstack serve` on 127.0.0.1 (any free port) over a
// fresh SQLite store with the given users, for the web client's tests.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// users: {name: password}. Resolves with {url, port, dir, stop()}.
export async function startServe({ bin, schema, web = null, users = {}, extra = [] }) {
  const dir = mkdtempSync(join(tmpdir(), 'syncstack-web-'));
  const store = `sqlite:${join(dir, 'server.db')}`;
  for (const [user, password] of Object.entries(users)) {
    execFileSync(bin, ['user', 'add', '--store', store, '--user', user, '--password', password]);
  }
  const args = ['serve', '--store', store, '--listen', '127.0.0.1:0', '--schema', schema, ...extra];
  if (web) args.push('--web', web);
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out} ${log}`)), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`serve exited ${code}: ${log}`)); });
  });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { url: `http://127.0.0.1:${port}`, port, dir, stop, log: () => log };
}
