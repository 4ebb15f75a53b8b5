// Debian's chromium driven by playwright-core: the same flags everywhere, a fresh profile,
// screenshots into the folder the test names, and nothing that reaches out to the internet.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = process.env.BASE_URL;
export const ARTIFACTS = process.env.ARTIFACTS ?? join(tmpdir(), 'mhc-e2e');
if (!BASE) throw new Error('BASE_URL is required');
mkdirSync(ARTIFACTS, { recursive: true });

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

export async function open(name) {
  const profile = mkdtempSync(join(tmpdir(), `mhc-chromium-${name}-`));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    viewport: { width: 420, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const log = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  // Everything the app loads must come from the server's origin (no CDN, no telemetry).
  const foreign = [];
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(BASE) && !url.startsWith('data:') && !url.startsWith('blob:')) foreign.push(url);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) log.push(`HTTP ${r.status()} ${r.url()}`);
  });
  return {
    page,
    log,
    foreign,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function shot(page, name) {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Polls fn (in the page) until it returns a truthy value. */
export async function until(page, fn, arg, timeout, what) {
  const handle = await page.waitForFunction(fn, arg, { timeout, polling: 250 }).catch((err) => {
    throw new Error(`timed out waiting for ${what}: ${err.message}`);
  });
  return handle.jsonValue();
}

export async function register(page, role, email, password, name) {
  await page.goto(`${BASE}/register`);
  if (role === 'artist') await page.getByRole('tab', { name: 'I am an artist' }).click();
  await page.getByTestId('display-name').fill(name);
  await page.getByTestId('email').fill(email);
  await page.getByTestId('password').fill(password);
  await page.getByTestId('register').click();
  await page.waitForURL(/\/feed$/, { timeout: 30_000 });
}

export function report(result) {
  // The test reads the last line.
  console.log(JSON.stringify(result));
}
