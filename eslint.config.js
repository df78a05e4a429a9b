// One flat config: eslint + typescript-eslint (type-checked), plus the module dependency arrows
// of STYLE.md rule 3 and the index-only imports of rule 2, encoded as no-restricted-imports.
import tseslint from 'typescript-eslint';

/** Modules each folder must not import (everything to its left in cli → … → registry → oci). */
const forbidden = {
  'src/oci/**': ['registry', 'keys', 'pki', 'notary', 'cosign', 'verify', 'admission', 'cli', 'server'],
  'src/registry/**': ['keys', 'pki', 'notary', 'cosign', 'verify', 'admission', 'cli', 'server'],
  // pki and keys sit side by side above registry; keys may read certificates through pki/index.js.
  'src/pki/**': ['keys', 'notary', 'cosign', 'verify', 'admission', 'cli', 'server'],
  'src/keys/**': ['notary', 'cosign', 'verify', 'admission', 'cli', 'server'],
  'src/notary/**': ['cosign', 'verify', 'admission', 'cli', 'server'],
  'src/verify/**': ['admission', 'cli', 'server'],
  'src/admission/**': ['cli', 'server'],
};

/**
 * STYLE.md rule 2: other folders reach these modules through their index.js only. Files inside a
 * module import their siblings as `./x.js`, which these patterns never match.
 */
const indexOnly = ['oci', 'registry', 'pki', 'keys', 'notary', 'verify', 'admission', 'kube'].map((m) => ({
  group: [`**/${m}/*`, `!**/${m}/index.js`],
  message: `STYLE.md rule 2: import ${m}/ through ${m}/index.js, not a file inside it`,
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bin/**', 'eslint.config.js'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Async generators that yield in-memory bytes and async stubs of async interfaces are the point, not a slip.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // commander hands every action its options as `any`; each command narrows them in its own flags type.
    files: ['src/cli/main.ts'],
    rules: { '@typescript-eslint/no-unsafe-argument': 'off' },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off', '@typescript-eslint/no-unsafe-assignment': 'off', '@typescript-eslint/no-unsafe-member-access': 'off' },
  },
  // A later block's no-restricted-imports replaces an earlier one for the same file, so every
  // per-folder block below repeats the index-only patterns after its own.
  { rules: { 'no-restricted-imports': ['error', { patterns: indexOnly }] } },
  ...Object.entries(forbidden).map(([files, modules]) => ({
    files: [files],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...modules.map((m) => ({ group: [`**/${m}/*`, `../${m}/*`], message: `STYLE.md rule 3: ${files.split('/')[1]}/ must not import ${m}/` })),
            ...indexOnly,
          ],
        },
      ],
    },
  })),
);
