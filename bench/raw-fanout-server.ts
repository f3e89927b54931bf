/**
 * The fan-out baseline (benchmark 4): the least a fan-out server can do. One ioredis subscriber
 * and a `ws` WebSocketServer; a client connects to `/?channel=<Redis channel>`, and every message
 * published on that channel is forwarded to each socket that asked for it with `ws.send` of the
 * same payload (as a text frame, encoded once). No auth, no GraphQL, no per-viewer filtering.
 *
 * REDIS_URL selects Redis; prints `{"port":N,"msg":"raw-fanout listening"}` once listening.
 * Preloads the probe (memory after GC, CPU profile) like the API servers.
 */
import './probe.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { WebSocketServer, type WebSocket } from 'ws';

const url = process.env['REDIS_URL'];
if (!url) throw new Error('REDIS_URL is required');
const sub = new Redis(url, { maxRetriesPerRequest: 1 });
const channels = new Map<string, Set<WebSocket>>();

sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
  const sockets = channels.get(channel.toString());
  if (sockets) for (const ws of sockets) ws.send(message, { binary: false });
});

const server = createServer((_req, res) => res.writeHead(426).end());
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws, req) => {
  const channel = new URL(req.url ?? '/', 'http://x').searchParams.get('channel');
  if (!channel) return ws.close(4400, 'channel required');
  let sockets = channels.get(channel);
  if (!sockets) {
    channels.set(channel, (sockets = new Set()));
    void sub.subscribe(channel);
  }
  sockets.add(ws);
  ws.on('close', () => {
    const s = channels.get(channel);
    if (s?.delete(ws) && s.size === 0) {
      channels.delete(channel);
      void sub.unsubscribe(channel);
    }
  });
});

server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port, msg: 'raw-fanout listening' }));
});
process.once('SIGTERM', () => {
  sub.disconnect();
  process.exit(0);
});
