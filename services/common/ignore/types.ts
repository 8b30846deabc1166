/** One rule of an ignore file (or of the built-in and configured lists), for explanations. */
export interface RuleRef {
  /** `<defaults>`, `<settings>`, or the workspace-relative path of the file, e.g. `sub/.gitignore`. */
  source: string;
  /** 1-based line in the file; index + 1 for `<defaults>` and `<settings>`. */
  line: number;
  /** The pattern as written (line ending removed). */
  pattern: string;
  /** Whether the rule is a negation (`!pattern`), i.e. re-includes. */
  negative: boolean;
}

export interface FilterDecision {
  ignored: boolean;
  /** The last rule matching the path itself, positive or negative; undefined when none matched. */
  rule?: RuleRef;
}
