/**
 * Client side of the connections benchmark (bench/connections.ts): holds a share of the idle
 * connections (one process cannot hold them all under the open-files limit). Over IPC:
 * - `open` {mode, url, from, to}: opens connections for viewers from..to-1: graphql-ws with one
 *   friendPresenceChanged subscription as user `cv-<i>` (`presence`), or a bare WebSocket (`bare`);
 * - `close`: drops them all.
 */
import { handle } from './probe.js';
import WebSocket from 'ws';
import { signToken } from '../src/infra/auth.js';
import { BENCH_SECRET, graphqlWs, pool, SUBSCRIPTION } from './lib/index.js';

export const connViewerId = (i: number) => `cv-${i}`;

let sockets: WebSocket[] = [];
let frames = 0;
let closed = 0;

handle('open', async (msg) => {
  const mode = msg['mode'] as 'presence' | 'bare';
  const url = String(msg['url']).replace(/^http/, 'ws');
  const from = Number(msg['from']);
  const to = Number(msg['to']);
  const ids = Array.from({ length: to - from }, (_, k) => from + k);
  const source = (i: number) => `127.0.0.${2 + (i % 8)}`;
  const t0 = performance.now();
  let failed = 0;
  let firstError = '';
  await pool(ids, 100, async (i) => {
    try {
      if (mode === 'presence') {
        sockets.push(
          await graphqlWs({
            url: `${url}/graphql`,
            token: await signToken(BENCH_SECRET, connViewerId(i), { expiresIn: '2h' }),
            query: SUBSCRIPTION,
            localAddress: source(i),
            onFrame: () => frames++,
            onClose: () => closed++,
          }),
        );
      } else {
        sockets.push(
          await new Promise<WebSocket>((resolve, reject) => {
            const ws = new WebSocket(url, { perMessageDeflate: false, localAddress: source(i) });
            ws.once('open', () => resolve(ws));
            ws.once('error', reject);
            ws.on('close', () => closed++);
          }),
        );
      }
    } catch (err) {
      failed++;
      firstError ||= String(err);
    }
  });
  return { opened: to - from - failed, failed, firstError, seconds: (performance.now() - t0) / 1000 };
});

handle('close', async () => {
  for (const ws of sockets) ws.terminate();
  sockets = [];
  return true;
});

handle('stats', () => ({ open: sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length, frames, closed }));

// The probe leaves the IPC channel unref'd (right for servers); this process lives on it.
process.channel?.ref();
process.send?.({ type: 'ready' });
