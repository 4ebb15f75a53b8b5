import { useState } from 'react';
import { artists } from '../src/api/endpoints';
import { useApp } from '../src/AppContext';
import { BarChart } from '../src/components/BarChart';
import { Body, Choice, ErrorBanner, Screen, Title } from '../src/components/ui';
import { useAsync } from '../src/hooks/useAsync';
import { formatMoney } from '../src/theme';

const RANGES = { '7d': 7, '30d': 30, '90d': 90 } as const;
type Range = keyof typeof RANGES;

export default function AnalyticsScreen() {
  const { api } = useApp();
  const [range, setRange] = useState<Range>('30d');
  const data = useAsync(() => {
    const to = new Date();
    const from = new Date(to.getTime() - RANGES[range] * 86_400_000);
    // The range is whole UTC days, inclusive.
    const day = (d: Date) => d.toISOString().slice(0, 10);
    return artists.analytics(api, day(from), day(to), range === '90d' ? 'week' : 'day');
  }, [api, range]);
  const buckets = data.data?.buckets ?? [];
  const label = (start: string) => start.slice(5, 10);
  const currency = buckets.map((b) => b.tips?.currency ?? b.sales?.currency).find(Boolean) ?? 'EUR';
  const money = (v: number) => formatMoney(v, currency);
  return (
    <Screen>
      <Title>Analytics</Title>
      <Choice options={Object.keys(RANGES) as Range[]} value={range} onChange={setRange} />
      <ErrorBanner message={data.error} onRetry={data.reload} />
      <BarChart title="Views" points={buckets.map((b) => ({ label: label(b.start), value: b.views }))} />
      <BarChart title="Watch time (min)" points={buckets.map((b) => ({ label: label(b.start), value: Math.round(b.watch_seconds / 60) }))} />
      <BarChart title="Likes" points={buckets.map((b) => ({ label: label(b.start), value: b.likes }))} />
      <BarChart title="Tips" points={buckets.map((b) => ({ label: label(b.start), value: b.tips?.amount ?? 0 }))} format={money} />
      <BarChart title="Ticket sales" points={buckets.map((b) => ({ label: label(b.start), value: b.sales?.amount ?? 0 }))} format={money} />
      <Body muted>Top videos</Body>
      {(data.data?.top_videos ?? []).map((v) => (
        <Body key={v.video_id} testID="top-video">
          {v.title ?? 'Untitled'} · {v.views} views · {v.likes} likes
        </Body>
      ))}
    </Screen>
  );
}
