import { request as httpRequest } from 'node:http';
import WebSocket from 'ws';
import { wsUrl } from './ws.js';

/** POSTs a raw body; resolves with status and text. */
export function post(url: string, body: string | Buffer, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpRequest(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A raw graphql-ws socket: resolves with the close code once the server closes it. */
export function rawSocket(url: string, opts: { origin?: string; init?: object; send?: (ws: WebSocket) => void } = {}) {
  return new Promise<{ code: number | null; status: number | null; messages: string[] }>((resolve) => {
    const messages: string[] = [];
    const ws = new WebSocket(wsUrl(url), 'graphql-transport-ws', opts.origin ? { origin: opts.origin } : {});
    ws.on('unexpected-response', (_req, res) => resolve({ code: null, status: res.statusCode ?? null, messages }));
    ws.on('open', () => {
      if (opts.init) ws.send(JSON.stringify({ type: 'connection_init', payload: opts.init }));
      opts.send?.(ws);
    });
    ws.on('message', (m) => messages.push(String(m)));
    ws.on('close', (code) => resolve({ code, status: null, messages }));
  });
}
