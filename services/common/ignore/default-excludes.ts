/**
 * Patterns (gitignore syntax) excluded from every workspace before any of its
 * own ignore files are read. They have the lowest precedence, the way
 * `.git/info/exclude` has in git, so a workspace re-includes one with a
 * negation such as `!.env.example` in its `.gitignore`.
 * images/mount-rclone/default-excludes.rclone is the same list for rclone.
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
  // Editors' working files: Vim's swap files and backups (`*~`, also Emacs'
  // and gedit's), Emacs' lock links and auto-saves. They live while a file is
  // open; synced, each would be uploaded, redeploy the app, then go to the trash.
  '*~',
  '.*.sw[a-p]',
  '.#*',
  '\\#*\\#',
]);

/**
 * Gitignore patterns as rclone filter patterns (for `--exclude` or `- ` rules):
 * a directory pattern `dir/` (a directory at any depth) is `dir/**`, which
 * rclone skips without listing; gitignore's escaped leading `\#` (else a
 * comment) is a plain `#`. The other patterns mean the same in both.
 */
export function rclonePatterns(patterns: readonly string[]): string[] {
  return patterns.map((p) => (p.endsWith('/') ? `${p}**` : p.replaceAll('\\#', '#')));
}
