import { Api, ApiError } from '../src/api/client';
import * as tus from '../src/lib/tus';
import { fakeFetch, memoryStore, reply } from './helpers';

/** A tus server in memory: keeps the offset and the bytes it received. */
function tusServer(size: number, { failAt }: { failAt?: number } = {}) {
  let offset = 0;
  let failed = false;
  const received: number[] = [];
  const fake = fakeFetch(async (call) => {
    expect(call.headers['Tus-Resumable']).toBe('1.0.0');
    if (call.method === 'POST') {
      expect(call.headers['Upload-Length']).toBe(String(size));
      return new Response(null, { status: 201, headers: { Location: 'http://elsewhere/api/videos/uploads/u1', 'Video-Id': 'v1' } });
    }
    if (call.method === 'HEAD') return new Response(null, { status: 200, headers: { 'Upload-Offset': String(offset) } });
    if (call.headers['Upload-Offset'] !== String(offset)) return new Response('{}', { status: 409 });
    if (failAt !== undefined && !failed && offset >= failAt) {
      failed = true;
      throw new TypeError('connection reset');
    }
    const chunk = new Uint8Array(await (call.body as Blob).arrayBuffer());
    received.push(...chunk);
    offset += chunk.length;
    return new Response(null, { status: 204, headers: { 'Upload-Offset': String(offset) } });
  });
  return { ...fake, received };
}

async function api(fetchImpl: typeof fetch) {
  const client = new Api(() => 'http://server.test', memoryStore(), { fetch: fetchImpl });
  await client.adopt(reply('a1', 'r1'));
  return client;
}

const bytes = (n: number) => new Blob([Uint8Array.from({ length: n }, (_, i) => i % 251)]);

describe('tus client', () => {
  it('encodes metadata as base64 pairs, UTF-8 included', () => {
    expect(tus.encodeMetadata({ filename: 'clip.mp4', title: 'Café', realm: undefined })).toBe(
      `filename ${btoa('clip.mp4')},title ${btoa('Caf\u00c3\u00a9')}`,
    );
  });

  it('creates an upload and sends the file in chunks with progress', async () => {
    const server = tusServer(2500);
    const client = await api(server.fetchImpl);
    const created = await tus.create(client, 2500, { filename: 'clip.mp4' });
    expect(created).toEqual({ location: '/api/videos/uploads/u1', videoId: 'v1' });
    const progress: number[] = [];
    await tus.send(client, created.location, bytes(2500), { chunkSize: 1000, onProgress: (sent) => progress.push(sent) });
    expect(progress).toEqual([0, 1000, 2000, 2500]);
    expect(server.received).toEqual(Array.from({ length: 2500 }, (_, i) => i % 251));
    expect(server.calls.every((c) => c.headers.Authorization === 'Bearer a1')).toBe(true);
  });

  it('resumes from the offset the server reports after a dropped connection', async () => {
    const server = tusServer(3000, { failAt: 1000 });
    const client = await api(server.fetchImpl);
    await tus.send(client, '/api/videos/uploads/u1', bytes(3000), { chunkSize: 1000 });
    expect(server.received).toHaveLength(3000);
    const methods = server.calls.map((c) => c.method);
    // HEAD to start, PATCH, the failed PATCH, HEAD to resync, then the rest.
    expect(methods).toEqual(['HEAD', 'PATCH', 'PATCH', 'HEAD', 'PATCH', 'PATCH']);
  });

  it('gives up on a refusal that retrying cannot fix', async () => {
    const fake = fakeFetch((call) =>
      call.method === 'HEAD'
        ? new Response(null, { status: 200, headers: { 'Upload-Offset': '0' } })
        : new Response(JSON.stringify({ error: { code: 'too_large', message: 'too big' } }), { status: 413 }),
    );
    const client = await api(fake.fetchImpl);
    const err = await tus.send(client, '/u', bytes(10)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(413);
  });
});
