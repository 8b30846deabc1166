import { BucketspaceError } from '../errors.ts';
import { normalizeEtag } from './etag.ts';
import type { ObjectInfo } from './object-store.ts';

/** One page of a ListObjectsV2 answer. */
export interface ListPage {
  objects: ObjectInfo[];
  /** CommonPrefixes (with a delimiter): full key prefixes such as `data/train/`. */
  prefixes: string[];
  /** The token of the next page; undefined on the last one. */
  nextToken: string | undefined;
}

/**
 * Where the next page starts, read before the page is parsed, so its request
 * can be on its way while this one is: the token when the listing is
 * truncated, else undefined. A truncated page without a token is an error
 * (the listing would silently stop short).
 */
export function nextListToken(xml: string): string | undefined {
  rootOf(xml);
  if (textOf(xml, 'IsTruncated') !== 'true') return undefined;
  const token = textOf(xml, 'NextContinuationToken');
  if (token === undefined || token === '')
    throw malformed('the page is truncated but names no NextContinuationToken');
  return token;
}

/**
 * The objects and common prefixes of one ListObjectsV2 page (the
 * `ListBucketResult` document S3 answers with): a scanner for this one
 * document shape, not a general XML parser. Text is unescaped (the five
 * named entities and numeric character references); with
 * `<EncodingType>url</EncodingType>` (asked for with `encoding-type=url`,
 * which servers without it ignore), keys and prefixes are percent-decoded,
 * so a key with characters XML cannot carry survives. ETags are normalised
 * (no quotes, lower case) as everywhere.
 */
export function parseListPage(xml: string): ListPage {
  const root = rootOf(xml);
  const urlEncoded = textOf(xml, 'EncodingType') === 'url';
  const name = urlEncoded ? urlDecoded : (raw: string) => raw;
  const objects: ObjectInfo[] = [];
  const prefixes: string[] = [];
  // The next entry of each kind, each looked for again only once it is taken.
  let contents = xml.indexOf('<Contents>', root.start);
  let common = xml.indexOf('<CommonPrefixes>', root.start);
  while (contents !== -1 || common !== -1) {
    if (contents !== -1 && (common === -1 || contents < common)) {
      const end = closing(xml, 'Contents', contents);
      const entry = xml.slice(contents, end);
      const key = textOf(entry, 'Key');
      if (key === undefined) throw malformed('an entry of Contents has no Key');
      const size = Number(textOf(entry, 'Size') ?? '0');
      if (!Number.isSafeInteger(size) || size < 0)
        throw malformed(`the Size of ${JSON.stringify(key)} is not a byte count`);
      const modified = textOf(entry, 'LastModified');
      objects.push({
        key: name(key),
        size,
        etag: normalizeEtag(textOf(entry, 'ETag')),
        lastModified: modified === undefined ? new Date(0) : new Date(modified),
      });
      contents = xml.indexOf('<Contents>', end);
    } else {
      const end = closing(xml, 'CommonPrefixes', common);
      const prefix = textOf(xml.slice(common, end), 'Prefix');
      if (prefix !== undefined && prefix !== '') prefixes.push(name(prefix));
      common = xml.indexOf('<CommonPrefixes>', end);
    }
  }
  return { objects, prefixes, nextToken: nextListToken(xml) };
}

function urlDecoded(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw malformed(`${JSON.stringify(raw)} is not URL-encoded`);
  }
}

/** The span of the `ListBucketResult` element's content. */
function rootOf(xml: string): { start: number; end: number } {
  const open = xml.indexOf('<ListBucketResult');
  const start = open === -1 ? -1 : xml.indexOf('>', open);
  const end = xml.lastIndexOf('</ListBucketResult>');
  if (start === -1 || end === -1 || end < start)
    throw malformed('the answer is not a ListBucketResult document');
  return { start: start + 1, end };
}

/** The index just after `</tag>` closing the element opened at `from`. */
function closing(xml: string, tag: string, from: number): number {
  const end = xml.indexOf(`</${tag}>`, from);
  if (end === -1) throw malformed(`<${tag}> is not closed`);
  return end + tag.length + 3;
}

/**
 * The unescaped text of the first `<tag>` element in `xml` (`<tag/>` is
 * empty), or undefined when there is none. Element names are matched whole
 * (`<Key>` never matches `<KeyCount>`), and text cannot hold a `<` (it is
 * escaped), so whatever looks like a tag is one.
 */
function textOf(xml: string, tag: string): string | undefined {
  const open = `<${tag}>`;
  const start = xml.indexOf(open);
  if (start === -1) return xml.includes(`<${tag}/>`) ? '' : undefined;
  const end = xml.indexOf(`</${tag}>`, start);
  if (end === -1) throw malformed(`<${tag}> is not closed`);
  return unescapeXml(xml.slice(start + open.length, end));
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML text with its entity and character references replaced. */
export function unescapeXml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (ref, body: string) => {
    if (body.startsWith('#x')) return String.fromCodePoint(Number.parseInt(body.slice(2), 16));
    if (body.startsWith('#')) return String.fromCodePoint(Number.parseInt(body.slice(1), 10));
    const named = NAMED[body];
    if (named === undefined) throw malformed(`unknown entity ${ref}`);
    return named;
  });
}

/** A listing that cannot be read (a body cut short, a proxy's page): retried like a server error. */
function malformed(why: string): BucketspaceError {
  return new BucketspaceError('S3_SERVER', `S3 sent a listing that cannot be read: ${why}`, {
    retryable: true,
  });
}
