// An artist uploads a video (tus, with progress) and waits for processing; a fan finds it,
// likes it, comments and tips; the artist sees it in analytics.
import { BASE, open, register, report, shot } from './browser.mjs';

const CLIP = process.env.CLIP;
const stamp = Date.now().toString(36);
const result = { screenshots: [], uploadProgress: [] };
const artist = await open('artist');
const fan = await open('fan');
try {
  const a = artist.page;
  await register(a, 'artist', `artist-${stamp}@example.test`, `pw-${stamp}-long`, `Artist ${stamp}`);
  await a.goto(`${BASE}/upload`);
  const title = `Clip ${stamp}`;
  const chooser = a.waitForEvent('filechooser');
  await a.getByTestId('pick').click();
  await (await chooser).setFiles(CLIP);
  await a.getByTestId('title').fill(title);
  await a.getByTestId('upload').click();
  const progress = a.getByTestId('upload-progress');
  await progress.waitFor({ timeout: 20_000 });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const text = (await progress.textContent()) ?? '';
    const pct = Number(/(\d+)%/.exec(text)?.[1] ?? -1);
    if (pct >= 0 && result.uploadProgress.at(-1) !== pct) result.uploadProgress.push(pct);
    if (pct === 100) break;
    await a.waitForTimeout(50);
  }
  result.screenshots.push(await shot(a, '11-upload-progress'));
  await a.getByTestId('watch-uploaded').waitFor({ timeout: 180_000 });
  result.screenshots.push(await shot(a, '12-upload-ready'));
  await a.getByTestId('watch-uploaded').click();
  await a.waitForURL(/\/watch\//);
  result.videoId = a.url().split('/watch/')[1];

  const f = fan.page;
  await register(f, 'fan', `fan-${stamp}@example.test`, `pw-${stamp}-long`, `Fan ${stamp}`);
  await f.getByText(title).first().waitFor({ timeout: 30_000 });
  result.screenshots.push(await shot(f, '13-discovery'));
  await f.getByText(title).first().click();
  await f.waitForURL(/\/watch\//);
  await f.locator('video').first().waitFor({ timeout: 20_000 });
  await f.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 1, null, { timeout: 30_000 });
  await f.getByTestId('like').click();
  await f.getByText('♥ Liked').waitFor({ timeout: 10_000 });
  result.comment = `lovely clip ${stamp}`;
  await f.getByTestId('comment-input').fill(result.comment);
  await f.getByTestId('comment-send').click();
  await f.getByTestId('comment').filter({ hasText: result.comment }).waitFor({ timeout: 15_000 });
  await f.getByTestId('tip-amount').fill('2.50');
  await f.getByTestId('tip-send').click();
  await f.getByTestId('tip-done').waitFor({ timeout: 15_000 });
  result.tipShown = true;
  result.screenshots.push(await shot(f, '14-watch-liked-commented-tipped'));

  await a.goto(`${BASE}/analytics`);
  await a.getByTestId('chart-Views').waitFor({ timeout: 20_000 });
  // The chart draws at once and fills when the figures arrive: read it once they have.
  const views = a.getByTestId('chart-Views').locator('div').first();
  const shown = async () => Number(/·\s*(\d+)/.exec((await views.textContent()) ?? '')?.[1] ?? 0);
  const until = Date.now() + 20_000;
  result.analyticsViews = await shown();
  while (result.analyticsViews < 1 && Date.now() < until) {
    await a.waitForTimeout(100);
    result.analyticsViews = await shown();
  }
  result.screenshots.push(await shot(a, '15-analytics'));
  result.foreign = [...artist.foreign, ...fan.foreign];
  result.ok = true;
} catch (err) {
  result.error = String(err?.stack ?? err);
  result.log = [...artist.log.slice(-20), ...fan.log.slice(-20)];
  result.screenshots.push(await shot(artist.page, 'failure-artist').catch(() => null));
  result.screenshots.push(await shot(fan.page, 'failure-fan').catch(() => null));
} finally {
  await artist.close();
  await fan.close();
  report(result);
}
