import type { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../infra/logger.js';

/**
 * graphql-ws' `useServer` reports an `error` event on the server or on a socket (a frame over
 * WS_MAX_PAYLOAD_BYTES, a reset mid-frame) with `console.error` and a multi-line stack, outside
 * the JSON log. This view of the server hands graphql-ws error listeners that log one JSON line
 * instead; everything else reaches the real objects. A socket error is the client's doing, so it
 * is logged at info; ws has already closed the socket with the matching code (1009, 1002, ...).
 */
export function quietErrors(wss: WebSocketServer, logger: Logger): WebSocketServer {
  const socketView = (socket: WebSocket) =>
    new Proxy(socket, {
      get(target, prop) {
        if (prop === 'once' || prop === 'on') {
          return (event: string, listener: (...args: unknown[]) => void) => {
            if (event !== 'error') return target[prop](event as 'close', listener);
            return target[prop]('error', (err: Error & { code?: string }) => {
              logger.info({ err: err.message, code: err.code }, 'websocket error');
              if (target.readyState === target.OPEN) target.close(1011, 'Internal error');
            });
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  return new Proxy(wss, {
    get(target, prop) {
      if (prop === 'once' || prop === 'on') {
        return (event: string, listener: (...args: unknown[]) => void) => {
          if (event === 'error') return target[prop]('error', (err: Error) => logger.error({ err: err.message }, 'websocket server error'));
          if (event === 'connection') return target[prop]('connection', (socket, req) => listener(socketView(socket), req));
          return target[prop](event as 'close', listener);
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
