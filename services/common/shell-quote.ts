const SAFE = /^[A-Za-z0-9_./@%+=:,-]+$/;

/** Quote one word for `sh -c`: kept as is when it holds no special character. */
export function shellQuote(word: string): string {
  if (SAFE.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
