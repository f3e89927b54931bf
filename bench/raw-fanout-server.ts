/**
 * The fan-out baseline (benchmark 4): the least a routed fan-out server can do. One ioredis
 * subscriber on this instance's inbox channel (the same channel and wire format as an API
 * instance, src/engine/bus.ts) and a `ws` WebSocketServer; a client connects to
 * `/?viewer=<viewer id>`, and every routed change names its recipients (`to`), so the server
 * encodes the change once and `ws.send`s it to each named local socket. The writer's side (reading
 * the user's friends and their routes, one PUBLISH per instance) is the engine's, the same for
 * Presence and for this baseline: who to send to is read, then sent. No auth, no GraphQL, no
 * per-viewer filtering, no repeat suppression.
 *
 * REDIS_URL selects Redis, RAW_INBOX the channel to listen on; prints
 * `{"port":N,"msg":"raw-fanout listening"}` once listening and subscribed. Preloads the probe
 * (memory after GC, CPU profile) like the API servers.
 */
import './probe.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { WebSocketServer, type WebSocket } from 'ws';

const url = process.env['REDIS_URL'];
const inbox = process.env['RAW_INBOX'];
if (!url || !inbox) throw new Error('REDIS_URL and RAW_INBOX are required');
const sub = new Redis(url, { maxRetriesPerRequest: 1 });
const byViewer = new Map<string, Set<WebSocket>>();

interface Change {
  u: string;
  p: number;
  s: number;
  t: number;
  to: string[];
}
sub.on('message', (_channel: string, message: string) => {
  const m = JSON.parse(message) as { k: string; c: Change[] };
  if (m.k !== 'p') return;
  for (const c of m.c) {
    const payload = JSON.stringify({ u: c.u, p: c.p, s: c.s, t: c.t });
    for (const viewer of c.to) {
      const sockets = byViewer.get(viewer);
      if (sockets) for (const ws of sockets) ws.send(payload);
    }
  }
});

const server = createServer((_req, res) => res.writeHead(426).end());
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws, req) => {
  const viewer = new URL(req.url ?? '/', 'http://x').searchParams.get('viewer');
  if (!viewer) return ws.close(4400, 'viewer required');
  let sockets = byViewer.get(viewer);
  if (!sockets) byViewer.set(viewer, (sockets = new Set()));
  sockets.add(ws);
  ws.on('close', () => {
    const s = byViewer.get(viewer);
    if (s?.delete(ws) && s.size === 0) byViewer.delete(viewer);
  });
});

await sub.subscribe(inbox);
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port, msg: 'raw-fanout listening' }));
});
process.once('SIGTERM', () => {
  sub.disconnect();
  process.exit(0);
});
