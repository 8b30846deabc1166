import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';

/** The payload hash S3 accepts when the body is not hashed (its integrity is checked by Content-MD5). */
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignInput {
  method: string;
  /** The request path exactly as sent, already URI-encoded (S3: no double encoding). */
  path: string;
  /** Query parameters (unencoded); S3 PUTs of objects have none. */
  query?: Readonly<Record<string, string>>;
  /** Every header to sign (host included), any case; values as sent. */
  headers: Readonly<Record<string, string>>;
  payloadHash: string;
  credentials: SigningCredentials;
  region: string;
  service: string;
  date: Date;
}

export interface SignedHeaders {
  'x-amz-date': string;
  'x-amz-content-sha256': string;
  'x-amz-security-token'?: string;
  authorization: string;
}

/**
 * AWS Signature Version 4 for one request, in the header form
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html).
 * Returns the headers to add; the signing key is cached per day, region,
 * service and secret. Pure apart from that cache.
 */
export class SigV4Signer {
  private cachedKey: { scope: string; secret: string; key: KeyObject } | undefined;

  sign(input: SignInput): SignedHeaders {
    const amzDate = toAmzDate(input.date);
    const day = amzDate.slice(0, 8);
    const scope = `${day}/${input.region}/${input.service}/aws4_request`;
    const added: SignedHeaders = {
      'x-amz-date': amzDate,
      'x-amz-content-sha256': input.payloadHash,
      authorization: '',
    };
    if (input.credentials.sessionToken !== undefined)
      added['x-amz-security-token'] = input.credentials.sessionToken;

    const all = new Map<string, string>();
    for (const [name, value] of Object.entries(input.headers))
      all.set(name.toLowerCase(), canonicalValue(value));
    for (const [name, value] of Object.entries(added))
      if (name !== 'authorization') all.set(name, canonicalValue(value as string));
    const names = [...all.keys()].sort();
    const signedHeaders = names.join(';');
    const canonicalHeaders = names.map((n) => `${n}:${all.get(n)}\n`).join('');
    const canonicalRequest = [
      input.method.toUpperCase(),
      input.path === '' ? '/' : input.path,
      canonicalQuery(input.query),
      canonicalHeaders,
      signedHeaders,
      input.payloadHash,
    ].join('\n');
    const stringToSign = [
      'AWS4-HMAC-SHA256',
      amzDate,
      scope,
      createHash('sha256').update(canonicalRequest).digest('hex'),
    ].join('\n');
    const signature = createHmac('sha256', this.signingKey(scope, input))
      .update(stringToSign)
      .digest('hex');
    added.authorization = `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return added;
  }

  /** The derived key as a KeyObject: an HMAC with a raw Buffer key costs a key set-up every time. */
  private signingKey(scope: string, input: SignInput): KeyObject {
    const secret = input.credentials.secretAccessKey;
    const cached = this.cachedKey;
    if (cached && cached.scope === scope && cached.secret === secret) return cached.key;
    const [day = '', region = '', service = ''] = scope.split('/');
    let key = hmac(`AWS4${secret}`, day);
    key = hmac(key, region);
    key = hmac(key, service);
    const keyObject = createSecretKey(hmac(key, 'aws4_request'));
    this.cachedKey = { scope, secret, key: keyObject };
    return keyObject;
  }
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** `20130524T000000Z` */
export function toAmzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** Header values: trimmed, runs of spaces collapsed to one. */
function canonicalValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

function canonicalQuery(query: Readonly<Record<string, string>> | undefined): string {
  if (!query) return '';
  return Object.keys(query)
    .map((k) => [uriEncode(k), uriEncode(query[k] ?? '')] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** RFC 3986 percent-encoding of everything but unreserved characters (A-Z a-z 0-9 - _ . ~). */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** An object key as a URL path: each `/`-separated segment encoded, the slashes kept. */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(uriEncode).join('/');
}
