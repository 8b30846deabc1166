/**
 * S3 bucket naming rules (general purpose buckets), as a pure function that
 * returns every rule the name breaks so the error can list them all.
 */
export function bucketNameProblems(name: string): string[] {
  const problems: string[] = [];
  if (name.length < 3 || name.length > 63) problems.push('must be 3 to 63 characters long');
  if (!/^[a-z0-9.-]*$/.test(name)) {
    problems.push('may contain only lowercase letters, digits, dots (.) and hyphens (-)');
  }
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) {
    problems.push('must begin and end with a lowercase letter or a digit');
  }
  if (name.includes('..')) problems.push('must not contain two adjacent dots');
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) problems.push('must not look like an IP address');
  if (name.startsWith('xn--') || name.startsWith('sthree-')) {
    problems.push('must not start with "xn--" or "sthree-"');
  }
  if (name.endsWith('-s3alias') || name.endsWith('--ol-s3')) {
    problems.push('must not end with "-s3alias" or "--ol-s3"');
  }
  return problems;
}
