import { Kind, type DocumentNode, type SelectionSetNode } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

/**
 * Refuses a document with more than `max` field selections before it is validated. graphql-js'
 * OverlappingFieldsCanBeMerged rule compares fields pairwise, so validation grows with the square
 * of the field count: within the token limit, 583 copies of one field cost 0.2-1 s of CPU, which a
 * few clients could use to stall every other request. This count is one linear walk of the parsed
 * document; past it validation never starts (GRAPHQL_VALIDATION_FAILED). Runs on every transport.
 * The verdict is remembered per parsed document: yoga's parser cache hands the same DocumentNode
 * to every request with the same text, so a client repeating its query pays for one walk (a
 * WeakMap: an entry lives only as long as the cache keeps its document).
 */
export function useMaxFields(max: number): Plugin {
  const tooMany = new WeakMap<DocumentNode, boolean>();
  return {
    onValidate({ params, setResult }) {
      const document = params.documentAST;
      let refused = tooMany.get(document);
      if (refused === undefined) tooMany.set(document, (refused = countFields(document, max) > max));
      if (refused) {
        setResult([
          createGraphQLError(`at most ${max} fields per document`, {
            extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } },
          }),
        ]);
      }
    },
  };
}

/** Field selections written in the document (fragments counted once), stopping past `max`. */
function countFields(document: DocumentNode, max: number): number {
  let n = 0;
  const sets: SelectionSetNode[] = [];
  for (const def of document.definitions) if ('selectionSet' in def && def.selectionSet) sets.push(def.selectionSet);
  while (sets.length && n <= max) {
    for (const sel of sets.pop()!.selections) {
      if (sel.kind === Kind.FIELD) n++;
      if ('selectionSet' in sel && sel.selectionSet) sets.push(sel.selectionSet);
    }
  }
  return n;
}
