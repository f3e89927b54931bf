// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', '.tmp/', 'test/generated/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // Everything here runs on Node (scripts a reader saves from the README too).
  { languageOptions: { globals: globals.node } },
  {
    rules: {
      // `_`-prefixed names are deliberately unused (callback positions, destructured rests).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  // The board's page script runs in a browser.
  { files: ['src/board/browser.ts'], languageOptions: { globals: globals.browser } },
  // Id and status message validation match control characters on purpose.
  { files: ['src/domain/ids.ts', 'src/domain/status-message-rules.ts'], rules: { 'no-control-regex': 'off' } },
);
