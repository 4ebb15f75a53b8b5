// The web build is served by the API itself (the API sends no CORS headers): same origin.
export const serverUrlIsSetting = false;

export function serverUrl(): string {
  return globalThis.location ? globalThis.location.origin : '';
}

export async function loadServerUrl(): Promise<string> {
  return serverUrl();
}

export async function saveServerUrl(): Promise<void> {
  // Nothing to choose on the web: the page's own origin is the server.
}
