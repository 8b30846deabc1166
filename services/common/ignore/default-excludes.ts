/**
 * Patterns (gitignore syntax) excluded from every workspace before any of its
 * own ignore files are read. They have the lowest precedence, the way
 * `.git/info/exclude` has in git, so a workspace re-includes one with a
 * negation such as `!.env.example` in its `.gitignore`.
 */
export const DEFAULT_EXCLUDES: readonly string[] = Object.freeze([
  'node_modules/',
  '.git/',
  '*.log',
  '.env*',
  'dist/',
  'build/',
  '__pycache__/',
  'vendor/',
  '*.pyc',
  '.DS_Store',
  'Thumbs.db',
  '._*',
]);
