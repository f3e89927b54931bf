// Part of `npm run build`: writes the board's script (client library included) beside the compiled
// server, dist/src/board/board.bundle.js, so production serves it without esbuild.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bundleBoard } from '../src/board/bundle.js';

const out = join(process.cwd(), 'dist', 'src', 'board', 'board.bundle.js');
mkdirSync(dirname(out), { recursive: true });
const script = await bundleBoard();
writeFileSync(out, script);
console.log(`board: ${out} (${(script.length / 1024).toFixed(1)} KiB)`);
