/**
 * The request-path baseline (benchmark 7): a bare graphql-yoga on Node's HTTP server, one field
 * `{ hello }`, no plugins, no context, no authentication. Prints
 * `{"port":N,"msg":"bare-yoga listening"}`; preloads the probe (CPU profiles) like the API servers.
 */
import './probe.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';

const yoga = createYoga({
  schema: createSchema({ typeDefs: 'type Query { hello: String! }', resolvers: { Query: { hello: () => 'world' } } }),
  graphiql: false,
  landingPage: false,
  logging: false,
});
const server = createServer(yoga);
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.address() as AddressInfo).port, msg: 'bare-yoga listening' }));
});
process.once('SIGTERM', () => process.exit(0));
