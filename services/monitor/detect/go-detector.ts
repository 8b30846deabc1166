import type { WorkspaceProbe } from '../types.ts';
import { shellQuote } from '../../common/shell-quote.ts';
import type { Detector, DetectorResult } from './types.ts';

export const GO_MOD = 'go.mod';
export const GO_SUM = 'go.sum';
export const GO_INSTALL = 'go mod download';

/** Where the start command builds the binary: outside /app, so the copy stays clean. */
export const GO_BINARY = '/tmp/bucketspace-app';

/** `cmd/<name>/main.go`: the usual home of a module's command when the root has no Go files. */
export const GO_COMMAND_MAIN = /^cmd\/[^/]+\/main\.go$/;

/**
 * Go: go.mod or main.go. Install: `go mod download` with a go.mod (nothing
 * without one: a lone main.go can import the standard library only). Start:
 * build, then exec the binary — not `go run`, which stays the app's parent
 * and does not pass the container's SIGTERM on, so every stop would wait
 * for Docker's kill timeout; a compile error still shows in the logs. The
 * package built is the root when it has .go files, else the one
 * `cmd/<name>/main.go` there is.
 */
export const goDetector: Detector = {
  type: 'go',
  signs: [GO_MOD, 'main.go'],
  defaultPort: 8080,
  detect(probe: WorkspaceProbe): DetectorResult {
    const hasModule = probe.files.has(GO_MOD);
    if (!hasModule && !probe.files.has('main.go')) return { kind: 'none' };
    const install = hasModule
      ? { command: GO_INSTALL, reason: `${GO_INSTALL} (${GO_MOD})` }
      : { command: null, reason: `nothing (no ${GO_MOD})` };
    const target = buildTarget(probe, hasModule);
    const start =
      target.pkg === undefined
        ? null
        : `go build -o ${GO_BINARY} ${target.pkg} && exec ${GO_BINARY}`;
    return {
      kind: 'found',
      evidence: hasModule ? GO_MOD : 'main.go',
      start,
      startReason: start === null ? target.why : `build ${target.pkg} then run it (${target.why})`,
      install: install.command,
      installReason: install.reason,
    };
  },
};

function buildTarget(probe: WorkspaceProbe, hasModule: boolean): { pkg?: string; why: string } {
  // Outside a module only files named on the command line can be built.
  if (!hasModule) return { pkg: 'main.go', why: 'main.go without go.mod' };
  const rootGo = [...probe.files].some((file) => !file.includes('/') && file.endsWith('.go'));
  if (rootGo) return { pkg: '.', why: 'Go files at the root' };
  const commands = [...probe.files].filter((file) => GO_COMMAND_MAIN.test(file)).sort();
  const only = commands.length === 1 ? commands[0] : undefined;
  if (only !== undefined) {
    const pkg = `./${only.slice(0, -'/main.go'.length)}`;
    return { pkg: shellQuote(pkg), why: `the only cmd/*/main.go` };
  }
  return {
    why:
      commands.length === 0
        ? 'no .go files at the root and no cmd/*/main.go'
        : `no .go files at the root and several commands (${commands.join(', ')})`,
  };
}
