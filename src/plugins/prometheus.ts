import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createCounter, createHistogram, usePrometheus, type FillLabelsFnParams } from '@graphql-yoga/plugin-prometheus';
import { Kind, parse } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Registry } from 'prom-client';

/**
 * yoga's request and operation metrics with every label drawn from a bounded set. The plugin's
 * defaults label series with the full request URL (query string included) and the operation name
 * the client chose, so anyone could create series without end (issue 12: 26,000 requests made
 * /metrics 440 MB). Here:
 * - `operationName` is one of `operationNames` (the documents in schema/operations), `anonymous`,
 *   or `other`;
 * - `operationType` is query, mutation, subscription or `unknown`;
 * - HTTP series carry `route` (the path when it is one of ours, else `other`), `method` (GET, POST
 *   or `other`) and `statusCode`, never the URL;
 * - error counts carry the phase, never the error's path.
 * The metrics are served by the internal listener (src/transport/metrics.ts), not by yoga.
 */
export function usePresencePrometheus(registry: Registry, operationNames: ReadonlySet<string>): Plugin {
  const name = (n: unknown) => (typeof n !== 'string' || n === '' || n === 'Anonymous' ? 'anonymous' : operationNames.has(n) ? n : 'other');
  const type = (t: unknown) => (t === 'query' || t === 'mutation' || t === 'subscription' ? t : 'unknown');
  const operation = (p: FillLabelsFnParams) => ({ operationName: name(p.operationName), operationType: type(p.operationType) });
  const opLabels = ['operationName', 'operationType'] as const;
  const histogram = <Phases>(metric: string, help: string) =>
    createHistogram<Phases, (typeof opLabels)[number]>({
      registry,
      histogram: { name: metric, help, labelNames: opLabels },
      fillLabelsFn: operation,
    });

  return usePrometheus({
    registry,
    endpoint: false,
    // Belt and braces: should a metric below fall back to its default, these labels stay off.
    labels: { url: false, path: false },
    metrics: {
      graphql_envelop_phase_parse: histogram('graphql_envelop_phase_parse', 'Time spent on running GraphQL "parse" function'),
      graphql_envelop_phase_validate: histogram('graphql_envelop_phase_validate', 'Time spent on running GraphQL "validate" function'),
      // Off: @envelop/prometheus reads the clock twice in a row for it (always ~0 s), at a histogram per request.
      graphql_envelop_phase_context: false,
      graphql_envelop_phase_execute: histogram('graphql_envelop_phase_execute', 'Time spent on running the GraphQL "execute" function'),
      graphql_envelop_phase_subscribe: histogram(
        'graphql_envelop_phase_subscribe',
        'Time spent on running the GraphQL "subscribe" function',
      ),
      graphql_envelop_request_duration: histogram(
        'graphql_envelop_request_duration',
        'Time spent on running the GraphQL operation from parse to execute',
      ),
      // Off, both: the same figures as graphql_envelop_request_duration (its _count and buckets), at
      // two more observations per request; a summary's quantiles cannot be added up across instances.
      graphql_envelop_request_time_summary: false,
      graphql_envelop_request: false,
      graphql_envelop_error_result: createCounter({
        registry,
        counter: {
          name: 'graphql_envelop_error_result',
          help: 'Counts the amount of errors reported from all phases',
          labelNames: [...opLabels, 'phase'],
        },
        fillLabelsFn: (p) => ({ ...operation(p), phase: p.errorPhase ?? 'unknown' }),
      }),
      // Off: the schema deprecates nothing, and the count walked every request's document with a TypeInfo.
      graphql_envelop_deprecated_field: false,
      graphql_yoga_http_duration: createHistogram({
        registry,
        histogram: {
          name: 'graphql_yoga_http_duration',
          help: 'Time spent on HTTP connection',
          labelNames: [...opLabels, 'method', 'statusCode', 'route'],
        },
        fillLabelsFn: (p: FillLabelsFnParams, { request, response }: { request: Request; response: Response }) => ({
          ...operation(p),
          method: request.method === 'GET' || request.method === 'POST' ? request.method : 'other',
          statusCode: response.status,
          route: route(request.url),
        }),
      }),
    },
  });
}

const routes = new Set(['/graphql', '/health', '/ready']);
function route(url: string): string {
  // Fast path: the path as sent is exactly one of ours (what nearly every request is); anything
  // else is parsed, so that a path that normalizes to one of ours still reads as it.
  const start = url.indexOf('/', url.indexOf('//') + 2);
  const query = url.indexOf('?', start);
  const raw = start < 0 ? '' : url.slice(start, query < 0 ? undefined : query);
  if (routes.has(raw)) return raw;
  try {
    const path = new URL(url).pathname;
    return routes.has(path) ? path : 'other';
  } catch {
    return 'other';
  }
}

/**
 * The names of the operations in the client documents (schema/operations/*.graphql): the only
 * operation names metrics show. Empty when the folder is missing (every name then reads `other`).
 */
export function operationNamesIn(dir: URL = new URL('schema/operations/', packageRoot(import.meta.url))): Set<string> {
  const names = new Set<string>();
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.graphql'));
  } catch {
    return names;
  }
  for (const file of files) {
    for (const def of parse(readFileSync(new URL(file, dir), 'utf8')).definitions) {
      if (def.kind === Kind.OPERATION_DEFINITION && def.name) names.add(def.name.value);
    }
  }
  return names;
}

/**
 * The folder of the nearest package.json above `from`: the repository under tsx, and the same
 * folder under the compiled build, whose files sit one level deeper (dist/src/...).
 */
function packageRoot(from: string): URL {
  for (let dir = new URL('.', from); dir.pathname !== '/'; dir = new URL('..', dir)) {
    if (existsSync(new URL('package.json', dir))) return dir;
  }
  return new URL('../../', from);
}
