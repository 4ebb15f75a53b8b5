import { Text, View } from 'react-native';
import { useApp } from '../AppContext';

/** A plain bar chart: one bar per bucket, labelled with its total. */
export function BarChart({ title, points, format }: { title: string; points: { label: string; value: number }[]; format?: (v: number) => string }) {
  const { theme } = useApp();
  const max = Math.max(1, ...points.map((p) => p.value));
  const total = points.reduce((sum, p) => sum + p.value, 0);
  return (
    <View style={{ gap: 4 }} accessibilityLabel={`${title} chart`} testID={`chart-${title}`}>
      <Text style={{ color: theme.text, fontWeight: '600' }}>
        {title} · {format ? format(total) : total}
      </Text>
      <View style={{ flexDirection: 'row', alignItems: 'flex-end', height: 80, gap: 2 }}>
        {points.map((p) => (
          <View
            key={p.label}
            accessibilityLabel={`${p.label}: ${p.value}`}
            style={{ flex: 1, height: `${(p.value / max) * 100}%`, minHeight: 1, backgroundColor: theme.accent }}
          />
        ))}
      </View>
      {points.length ? (
        <Text style={{ color: theme.muted, fontSize: 11 }}>
          {points[0].label} – {points[points.length - 1].label}
        </Text>
      ) : null}
    </View>
  );
}
