import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LimitsConfig } from '../config.js';

/** The public listener: yoga behind the limits on request time and body size. */
export function createHttpServer(limits: LimitsConfig, handle: (req: IncomingMessage, res: ServerResponse) => unknown): Server {
  const server = createServer(
    {
      headersTimeout: limits.httpHeadersTimeoutMs,
      requestTimeout: limits.httpRequestTimeoutMs,
      // How often Node looks for late requests (its default, 30 s, would make the timeouts coarse).
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(limits.httpHeadersTimeoutMs / 2)),
    },
    (req, res) => {
      if (tooLarge(req, res, limits.maxBodyBytes)) return;
      void handle(req, res);
    },
  );
  server.maxConnections = limits.maxConnections;
  return server;
}

/** Listens on host:port (0: a free port); resolves with the port. */
export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Closes a listener and the connections it holds (a keep-alive one would hold close() open). */
export function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  server.closeAllConnections();
  return closed;
}

export const baseUrl = (host: string, port: number) => {
  const h = host.includes(':') ? `[${host}]` : host;
  return `http://${h === '0.0.0.0' ? '127.0.0.1' : h}:${port}`;
};

/**
 * Refuses bodies over the limit before yoga reads them: a declared length over it gets 413, and
 * a body without a declared length (chunked) is not accepted at all (411); GraphQL clients always
 * send one. Returns true when it answered.
 */
function tooLarge(req: IncomingMessage, res: ServerResponse, max: number): boolean {
  if (req.method !== 'POST') return false;
  const length = req.headers['content-length'];
  const status = length === undefined ? 411 : Number(length) > max ? 413 : 0;
  if (!status) return false;
  const message = status === 411 ? 'a Content-Length header is required' : `request body over ${max} bytes`;
  res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] }));
  req.resume();
  return true;
}
