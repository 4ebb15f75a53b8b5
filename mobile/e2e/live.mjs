// A fan registers, buys a ticket for a live show, sees the QR, validates it, watches the real
// stream (the player's currentTime advances) and chats.
import { BASE, open, register, report, shot, until } from './browser.mjs';

const EVENT_ID = process.env.EVENT_ID;
const EVENT_TITLE = process.env.EVENT_TITLE;
const stamp = Date.now().toString(36);
const result = { screenshots: [] };
const browser = await open('fan');
const { page } = browser;
try {
  await register(page, 'fan', `fan-${stamp}@example.test`, `pw-${stamp}-long`, `Fan ${stamp}`);
  result.screenshots.push(await shot(page, '01-feed'));

  await page.goto(`${BASE}/live`);
  await page.getByText(EVENT_TITLE).first().click();
  await page.waitForURL(new RegExp(`/event/${EVENT_ID}$`));
  await page.getByTestId('buy').waitFor({ timeout: 20_000 });
  result.screenshots.push(await shot(page, '02-event'));

  await page.getByTestId('buy').click();
  // The rotating QR replaces the buy button once the (development) payment completes.
  await page.getByTestId('ticket-qr').locator('svg').first().waitFor({ timeout: 20_000 });
  await page.getByTestId('qr-expiry').waitFor();
  result.qrModules = await page.getByTestId('ticket-qr').locator('svg path, svg rect').count();
  result.screenshots.push(await shot(page, '03-ticket-qr'));

  result.nativeHls = await page.evaluate(() => document.createElement('video').canPlayType('application/vnd.apple.mpegurl'));
  await page.getByTestId('validate').click();
  await page.locator('video').first().waitFor({ timeout: 20_000 });
  const first = await until(
    page,
    () => {
      const v = document.querySelector('video');
      return v && v.currentTime > 0.5 ? v.currentTime : 0;
    },
    null,
    45_000,
    'the live player to start',
  );
  const later = await until(
    page,
    (t0) => {
      const v = document.querySelector('video');
      return v && v.currentTime > t0 + 2 ? v.currentTime : 0;
    },
    first,
    30_000,
    'the live player to advance',
  );
  result.currentTime = [first, later];
  result.videoSrc = await page.evaluate(() => document.querySelector('video')?.currentSrc ?? '');
  result.screenshots.push(await shot(page, '04-live-player'));

  const text = `hello from the browser ${stamp}`;
  await page.getByTestId('chat-input').fill(text);
  await page.getByTestId('chat-send').click();
  await page.getByTestId('chat-message').filter({ hasText: text }).waitFor({ timeout: 15_000 });
  result.chatSent = text;
  if (process.env.ARTIST_MESSAGE) {
    await page.getByTestId('chat-message').filter({ hasText: process.env.ARTIST_MESSAGE }).waitFor({ timeout: 15_000 });
    result.chatReceived = process.env.ARTIST_MESSAGE;
  }
  result.screenshots.push(await shot(page, '05-chat'));

  await page.goto(`${BASE}/tickets`);
  await page.getByTestId('ticket-card').first().waitFor({ timeout: 15_000 });
  result.ticketsListed = await page.getByTestId('ticket-card').count();
  result.screenshots.push(await shot(page, '06-my-tickets'));
  result.foreign = browser.foreign;
  result.ok = true;
} catch (err) {
  result.error = String(err?.stack ?? err);
  result.log = browser.log.slice(-40);
  result.videoSrc = await page.evaluate(() => document.querySelector('video')?.currentSrc ?? '').catch(() => null);
  result.videoError = await page.evaluate(() => document.querySelector('video')?.error?.message ?? null).catch(() => null);
  result.screenshots.push(await shot(page, 'failure').catch(() => null));
} finally {
  await browser.close();
  report(result);
}
