import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isBucketspaceError } from '../errors.ts';
import { nextListToken, parseListPage, unescapeXml } from './list-xml.ts';

const HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';
const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';

/** A ListBucketResult as S3 writes it: `parts` inside, in order. */
function page(...parts: string[]): string {
  return `${HEAD}<ListBucketResult ${NS}><Name>b</Name><Prefix>ws/</Prefix><KeyCount>${parts.length}</KeyCount><MaxKeys>1000</MaxKeys>${parts.join('')}</ListBucketResult>`;
}

function entry(key: string, size: number, etag: string, modified = '2026-11-29T10:00:00.000Z') {
  return `<Contents><Key>${key}</Key><LastModified>${modified}</LastModified><ETag>${etag}</ETag><Size>${size}</Size><Owner><ID>o</ID><DisplayName>o</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>`;
}

function rejects(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  return assert.fail('expected an error');
}

describe('parseListPage', () => {
  test('objects with size, ETag without quotes (escaped or not) and time; the last page has no token', () => {
    const xml = page(
      '<IsTruncated>false</IsTruncated>',
      entry('ws/a.txt', 12, '&quot;0CC175B9C0F1B6A831C399E269772661&quot;'),
      entry('ws/big.bin', 209715200, '"9b2cf535f27731c974343645a3985328-25"'),
    );
    const parsed = parseListPage(xml);
    assert.deepEqual(parsed, {
      objects: [
        {
          key: 'ws/a.txt',
          size: 12,
          etag: '0cc175b9c0f1b6a831c399e269772661',
          lastModified: new Date('2026-11-29T10:00:00.000Z'),
        },
        {
          key: 'ws/big.bin',
          size: 209715200,
          etag: '9b2cf535f27731c974343645a3985328-25',
          lastModified: new Date('2026-11-29T10:00:00.000Z'),
        },
      ],
      prefixes: [],
      nextToken: undefined,
    });
    assert.equal(nextListToken(xml), undefined);
  });

  test('keys with &, <, >, quotes, spaces, unicode and character references are unescaped', () => {
    const keys = [
      ['ws/with space/a &amp; b.txt', 'ws/with space/a & b.txt'],
      ['ws/&lt;tag&gt; &quot;q&quot; &apos;s&apos;', `ws/<tag> "q" 's'`],
      ['ws/ünï #?%+=;!()*~.txt', 'ws/ünï #?%+=;!()*~.txt'],
      ['ws/&#x1F600;&#233;&#10;', 'ws/😀é\n'],
      ['ws/%41 stays', 'ws/%41 stays'],
    ];
    const parsed = parseListPage(page(...keys.map(([xml]) => entry(xml ?? '', 1, '"e"'))));
    assert.deepEqual(
      parsed.objects.map((o) => o.key),
      keys.map(([, key]) => key),
    );
  });

  test('with EncodingType url, keys and prefixes are percent-decoded (and only then)', () => {
    const parsed = parseListPage(
      page(
        '<EncodingType>url</EncodingType>',
        entry('ws/a%20%26%20b%01.txt', 1, '"e"'),
        '<CommonPrefixes><Prefix>ws/d%C3%BC/</Prefix></CommonPrefixes>',
      ),
    );
    assert.deepEqual(
      parsed.objects.map((o) => o.key),
      ['ws/a & b\u0001.txt'],
    );
    assert.deepEqual(parsed.prefixes, ['ws/dü/']);
    const bad = rejects(() =>
      parseListPage(page('<EncodingType>url</EncodingType>', entry('ws/%E0%A4%A', 1, '"e"'))),
    );
    assert.ok(isBucketspaceError(bad, 'S3_SERVER'), String(bad));
  });

  test('a truncated page gives its continuation token, unescaped, before and after parsing', () => {
    const xml = page(
      '<IsTruncated>true</IsTruncated>',
      '<NextContinuationToken>1/abc+def&amp;=</NextContinuationToken>',
      entry('ws/a', 1, '"e"'),
    );
    assert.equal(nextListToken(xml), '1/abc+def&=');
    assert.equal(parseListPage(xml).nextToken, '1/abc+def&=');
    const noToken = page('<IsTruncated>true</IsTruncated>', entry('ws/a', 1, '"e"'));
    const err = rejects(() => nextListToken(noToken));
    assert.ok(isBucketspaceError(err, 'S3_SERVER'), String(err));
    assert.equal(
      (err as { retryable: boolean }).retryable,
      true,
      'read again: it may be cut short',
    );
  });

  test('an empty listing, self-closing elements and common prefixes in order with objects', () => {
    assert.deepEqual(parseListPage(page('<IsTruncated>false</IsTruncated>')), {
      objects: [],
      prefixes: [],
      nextToken: undefined,
    });
    assert.deepEqual(
      parseListPage(`${HEAD}<ListBucketResult ${NS}/>`.replace('/>', '></ListBucketResult>')),
      {
        objects: [],
        prefixes: [],
        nextToken: undefined,
      },
    );
    const parsed = parseListPage(
      page(
        '<Contents><Key>d/top.txt</Key><ETag/><Size>0</Size></Contents>',
        '<CommonPrefixes><Prefix>d/other/</Prefix></CommonPrefixes>',
        '<CommonPrefixes><Prefix>d/sub/</Prefix></CommonPrefixes>',
      ),
    );
    assert.deepEqual(parsed.objects, [
      { key: 'd/top.txt', size: 0, etag: '', lastModified: new Date(0) },
    ]);
    assert.deepEqual(parsed.prefixes, ['d/other/', 'd/sub/']);
  });

  test('what is not a listing page is an error that says so', () => {
    for (const xml of [
      '',
      `${HEAD}<Error><Code>NoSuchBucket</Code></Error>`,
      page(entry('ws/a', 1, '"e"')).replace('</Contents>', ''),
      page('<Contents><Size>1</Size></Contents>'),
      page(entry('ws/a', -1, '"e"')),
      page(entry('ws/a &bogus; b', 1, '"e"')),
    ]) {
      const err = rejects(() => parseListPage(xml));
      assert.ok(isBucketspaceError(err, 'S3_SERVER'), `${xml}: ${String(err)}`);
      assert.match((err as Error).message, /listing that cannot be read/);
    }
  });
});

describe('unescapeXml', () => {
  test('named entities and character references; text without & is returned as is', () => {
    assert.equal(unescapeXml('a &amp;lt; b'), 'a &lt; b', 'unescaped once, not twice');
    assert.equal(unescapeXml('&#65;&#x42;&#x63;'), 'ABc');
    const plain = 'no references here';
    assert.equal(unescapeXml(plain), plain);
  });
});
