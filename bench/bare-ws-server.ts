/**
 * The connections baseline (benchmark 5): a bare `ws` WebSocketServer on an HTTP server that
 * accepts connections and keeps them in a Set, nothing else. Prints
 * `{"port":N,"msg":"bare-ws listening"}`; preloads the probe (memory after GC) like the API servers.
 */
import './probe.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

const sockets = new Set<WebSocket>();
const server = createServer((_req, res) => res.writeHead(426).end());
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  sockets.add(ws);
  ws.on('close', () => sockets.delete(ws));
});
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port, msg: 'bare-ws listening' }));
});
process.once('SIGTERM', () => process.exit(0));
