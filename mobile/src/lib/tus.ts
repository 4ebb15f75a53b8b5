// A small tus 1.0 client (creation + core): resumable uploads whose offset the server keeps,
// so a dropped connection or a backgrounded app resumes where the server says it stopped.
import { ApiError, type Api } from '../api/client';

export const TUS_VERSION = '1.0.0';
const CHUNK = 1024 * 1024;

function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function encodeMetadata(meta: Record<string, string | undefined>): string {
  return Object.entries(meta)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k} ${base64(v as string)}`)
    .join(',');
}

export interface Created {
  location: string;
  videoId: string;
}

export async function create(api: Api, size: number, meta: Record<string, string | undefined>): Promise<Created> {
  const response = await api.raw('POST', '/api/videos/uploads', {
    headers: {
      'Tus-Resumable': TUS_VERSION,
      'Upload-Length': String(size),
      'Upload-Metadata': encodeMetadata(meta),
    },
  });
  const location = response.headers.get('Location');
  const videoId = response.headers.get('Video-Id');
  if (!location || !videoId) throw new ApiError(502, 'bad_upload', 'The server did not open an upload.');
  return { location: toPath(location), videoId };
}

function toPath(location: string): string {
  // Keep only the path: the app talks to the server it is configured for, whatever the header says.
  const match = /^https?:\/\/[^/]+(\/.*)$/.exec(location);
  return match ? match[1] : location;
}

export async function offset(api: Api, location: string): Promise<number> {
  const response = await api.raw('HEAD', location, { headers: { 'Tus-Resumable': TUS_VERSION } });
  return Number(response.headers.get('Upload-Offset') ?? '0');
}

export interface SendOptions {
  onProgress?: (sent: number, total: number) => void;
  signal?: AbortSignal;
  chunkSize?: number;
  retries?: number;
}

/** Sends the rest of `blob` from the server's offset; retries network failures after a HEAD. */
export async function send(api: Api, location: string, blob: Blob, options: SendOptions = {}): Promise<void> {
  const total = blob.size;
  const chunk = options.chunkSize ?? CHUNK;
  let failures = 0;
  let at = await offset(api, location);
  options.onProgress?.(at, total);
  while (at < total) {
    try {
      const response = await api.raw('PATCH', location, {
        headers: {
          'Tus-Resumable': TUS_VERSION,
          'Upload-Offset': String(at),
          'Content-Type': 'application/offset+octet-stream',
        },
        rawBody: blob.slice(at, Math.min(total, at + chunk)),
        signal: options.signal,
      });
      at = Number(response.headers.get('Upload-Offset') ?? at);
      failures = 0;
      options.onProgress?.(at, total);
    } catch (err) {
      const retriable = err instanceof ApiError && (err.offline || err.status === 409 || err.status >= 500);
      if (!retriable || failures >= (options.retries ?? 5) || options.signal?.aborted) throw err;
      failures += 1;
      await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** failures));
      at = await offset(api, location);
    }
  }
}
