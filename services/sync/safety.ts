import type { MaxDelete } from './sync-settings.ts';

/** The delete limit of one workspace for one run, as a pure decision. */
export function exceedsMaxDelete(deletes: number, total: number, limit: MaxDelete): boolean {
  if (deletes === 0) return false;
  switch (limit.kind) {
    case 'count':
      return deletes > limit.value;
    case 'percent':
      return total === 0 ? deletes > 0 : (deletes / total) * 100 > limit.value;
    case 'default':
      return deletes > 10 && deletes * 2 > total;
  }
}

export function describeMaxDelete(limit: MaxDelete): string {
  switch (limit.kind) {
    case 'count':
      return `--max-delete ${limit.value}`;
    case 'percent':
      return `--max-delete ${limit.value}%`;
    case 'default':
      return 'the default limit (more than 50% of the objects and more than 10)';
  }
}
