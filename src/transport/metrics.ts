import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../infra/logger.js';

/**
 * The internal listener (METRICS_PORT): `GET /metrics` in Prometheus text format and nothing else.
 * It is a separate server so that the public port (what the load balancer exposes) never serves
 * metrics: they name internals (fleet-wide online users, Redis health) nobody outside should read.
 * A failed scrape answers 500 with a one-line body; the details go to the log.
 */
export function createMetricsServer(registry: Registry, logger: Logger): Server {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: Error) => {
        logger.error({ err: err.message }, 'metrics scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  // A scraper is a well-behaved internal client: no reason to hold a slow one for long.
  server.requestTimeout = 10_000;
  return server;
}
