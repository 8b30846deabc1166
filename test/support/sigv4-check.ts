import type { IncomingHttpHeaders } from 'node:http';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * Checks a received request's SigV4 signature with the AWS SDK's signer
 * (@smithy/signature-v4), as a real S3 server would, but from the request as
 * received: the path is decoded and re-encoded strictly, and only the headers
 * the client listed as signed are used. s3rver accepts any V4 signature, so
 * tests that must prove signatures right send their requests through a proxy
 * that uses this.
 */
export interface SigV4Secrets {
  accessKeyId: string;
  secretAccessKey: string;
}

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

/** Undefined when the signature is right; otherwise why not. */
export async function sigV4Problem(
  req: { method: string; url: string; headers: IncomingHttpHeaders },
  secrets: SigV4Secrets,
): Promise<string | undefined> {
  const auth = req.headers.authorization;
  if (auth === undefined) return 'no Authorization header';
  const m = AUTH.exec(auth);
  if (!m) return `malformed Authorization header: ${auth}`;
  const [, accessKeyId, , region = '', service = '', signedList = '', signature] = m;
  if (accessKeyId !== secrets.accessKeyId) return `unknown access key ${accessKeyId}`;
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const dm = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!dm) return `bad x-amz-date "${amzDate}"`;
  const signingDate = new Date(Date.UTC(+dm[1]!, +dm[2]! - 1, +dm[3]!, +dm[4]!, +dm[5]!, +dm[6]!));

  const signed = signedList.split(';');
  const headers: Record<string, string> = {};
  for (const name of signed) {
    const value = req.headers[name];
    if (value === undefined) return `signed header ${name} missing from the request`;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const [rawPath = '/', rawQuery] = req.url.split('?', 2);
  // Like MinIO and AWS: the canonical path is the received path decoded, then
  // re-encoded strictly (RFC 3986), so a client that leaves a character
  // unencoded which S3 encodes computes a signature the server does not.
  const path = rawPath
    .split('/')
    .map((segment) =>
      encodeURIComponent(decodeURIComponent(segment)).replace(
        /[!'()*]/g,
        (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
      ),
    )
    .join('/');
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQuery ?? '')) query[k] = v;
  const host = headers.host ?? '';
  const oracle = new SignatureV4({
    credentials: { accessKeyId: secrets.accessKeyId, secretAccessKey: secrets.secretAccessKey },
    region,
    service,
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false,
    applyChecksum: false,
  });
  const expected = await oracle.sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname: host.replace(/:\d+$/, ''),
      path,
      query,
      headers,
    },
    { signingDate, signableHeaders: new Set(signed) },
  );
  const want = /Signature=([0-9a-f]{64})/.exec(String(expected.headers.authorization))?.[1];
  return want === signature
    ? undefined
    : `signature ${signature} for ${req.method} ${req.url}; the AWS SDK's signer computes ${want}`;
}
