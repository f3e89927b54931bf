import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** The page's script as `npm run build` writes it beside the compiled server (dist/src/board/). */
const BUILT = new URL('./board.bundle.js', import.meta.url);
/** Its entry: the board's browser code, which imports the client library (client/). */
const ENTRY = fileURLToPath(new URL('./browser.ts', import.meta.url));

/**
 * Bundles the board's browser code and the client library (and graphql-ws) into one ES module:
 * no CDN, nothing fetched but this server. esbuild is a development dependency: production runs
 * the file `npm run build` wrote, and only a development server (`npm run dev`, the tests)
 * bundles, at each request for the script.
 */
export async function bundleBoard(): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

/**
 * The page's script: the file `npm run build` wrote, read once; without one (`npm run dev`, the
 * tests) bundled at each request (~50 ms), so an edit to browser.ts shows on the next reload.
 */
export function boardScript(): () => Promise<string> {
  let built: Promise<string | null> | null = null;
  return async () =>
    (await (built ??= readFile(BUILT, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      built = null; // unreadable: try again next time
      throw err;
    }))) ?? bundleBoard();
}
