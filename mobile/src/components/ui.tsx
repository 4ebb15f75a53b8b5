import type { ReactNode } from 'react';
import {
  ActivityIndicator,
  Pressable,
  ScrollView,
  StyleSheet,
  Text,
  TextInput,
  View,
  type TextInputProps,
  type ViewStyle,
} from 'react-native';
import { useApp } from '../AppContext';

export function Screen({ children, scroll = true }: { children: ReactNode; scroll?: boolean }) {
  const { theme } = useApp();
  if (!scroll) {
    return <View style={[styles.screen, { backgroundColor: theme.background }]}>{children}</View>;
  }
  return (
    <ScrollView
      style={{ backgroundColor: theme.background }}
      contentContainerStyle={styles.screen}
      keyboardShouldPersistTaps="handled"
    >
      {children}
    </ScrollView>
  );
}

export function Title({ children }: { children: ReactNode }) {
  const { theme } = useApp();
  return (
    <Text accessibilityRole="header" style={[styles.title, { color: theme.text }]}>
      {children}
    </Text>
  );
}

export function Body({ children, muted, testID }: { children: ReactNode; muted?: boolean; testID?: string }) {
  const { theme } = useApp();
  return (
    <Text testID={testID} style={[styles.body, { color: muted ? theme.muted : theme.text }]}>
      {children}
    </Text>
  );
}

export function Button({
  title,
  onPress,
  disabled,
  busy,
  kind = 'primary',
  testID,
}: {
  title: string;
  onPress: () => void;
  disabled?: boolean;
  busy?: boolean;
  kind?: 'primary' | 'secondary' | 'danger';
  testID?: string;
}) {
  const { theme } = useApp();
  const background = kind === 'primary' ? theme.accent : kind === 'danger' ? theme.danger : theme.card;
  const color = kind === 'secondary' ? theme.text : theme.accentText;
  return (
    <Pressable
      testID={testID}
      accessibilityRole="button"
      accessibilityLabel={title}
      accessibilityState={{ disabled: !!(disabled || busy), busy: !!busy }}
      disabled={disabled || busy}
      onPress={onPress}
      style={({ pressed }) => [
        styles.button,
        { backgroundColor: background, borderColor: theme.border, opacity: disabled ? 0.5 : pressed ? 0.8 : 1 },
      ]}
    >
      {busy ? <ActivityIndicator color={color} /> : <Text style={[styles.buttonText, { color }]}>{title}</Text>}
    </Pressable>
  );
}

export function Field({ label, ...props }: TextInputProps & { label: string }) {
  const { theme } = useApp();
  return (
    <View style={styles.field}>
      <Text style={[styles.label, { color: theme.muted }]}>{label}</Text>
      <TextInput
        accessibilityLabel={label}
        placeholderTextColor={theme.muted}
        autoCapitalize="none"
        {...props}
        style={[styles.input, { color: theme.text, borderColor: theme.border, backgroundColor: theme.card }]}
      />
    </View>
  );
}

export function ErrorBanner({ message, onRetry }: { message: string | null | undefined; onRetry?: () => void }) {
  const { theme } = useApp();
  if (!message) return null;
  return (
    <View accessibilityRole="alert" testID="error" style={[styles.banner, { borderColor: theme.danger }]}>
      <Text style={{ color: theme.danger, flex: 1 }}>{message}</Text>
      {onRetry ? (
        <Pressable accessibilityRole="button" onPress={onRetry}>
          <Text style={{ color: theme.accent, fontWeight: '600' }}>Retry</Text>
        </Pressable>
      ) : null}
    </View>
  );
}

export function Card({ children, style, testID }: { children: ReactNode; style?: ViewStyle; testID?: string }) {
  const { theme } = useApp();
  return (
    <View testID={testID} style={[styles.card, { backgroundColor: theme.card, borderColor: theme.border }, style]}>
      {children}
    </View>
  );
}

export function Row({ children }: { children: ReactNode }) {
  return <View style={styles.row}>{children}</View>;
}

export function Choice<T extends string>({
  options,
  value,
  onChange,
  labels,
}: {
  options: readonly T[];
  value: T;
  onChange: (value: T) => void;
  labels?: Partial<Record<T, string>>;
}) {
  const { theme } = useApp();
  return (
    <View style={styles.row} accessibilityRole="tablist">
      {options.map((option) => {
        const selected = option === value;
        return (
          <Pressable
            key={option}
            accessibilityRole="tab"
            accessibilityState={{ selected }}
            onPress={() => onChange(option)}
            style={[
              styles.chip,
              { borderColor: selected ? theme.accent : theme.border, backgroundColor: selected ? theme.accent : theme.card },
            ]}
          >
            <Text style={{ color: selected ? theme.accentText : theme.text }}>{labels?.[option] ?? option}</Text>
          </Pressable>
        );
      })}
    </View>
  );
}

export function ProgressBar({ value, testID }: { value: number; testID?: string }) {
  const { theme } = useApp();
  const pct = Math.max(0, Math.min(100, value));
  return (
    <View
      testID={testID}
      accessibilityRole="progressbar"
      accessibilityValue={{ min: 0, max: 100, now: Math.round(pct) }}
      style={[styles.progress, { backgroundColor: theme.border }]}
    >
      <View style={{ width: `${pct}%`, backgroundColor: theme.accent, height: '100%' }} />
    </View>
  );
}

export const styles = StyleSheet.create({
  screen: { padding: 16, gap: 12, flexGrow: 1 },
  title: { fontSize: 24, fontWeight: '700', marginBottom: 4 },
  body: { fontSize: 15, lineHeight: 21 },
  button: { paddingVertical: 12, paddingHorizontal: 16, borderRadius: 10, alignItems: 'center', borderWidth: 1 },
  buttonText: { fontSize: 16, fontWeight: '600' },
  field: { gap: 4 },
  label: { fontSize: 13 },
  input: { borderWidth: 1, borderRadius: 8, paddingHorizontal: 12, paddingVertical: 10, fontSize: 16 },
  banner: { borderWidth: 1, borderRadius: 8, padding: 10, flexDirection: 'row', gap: 8, alignItems: 'center' },
  card: { borderWidth: 1, borderRadius: 12, padding: 12, gap: 6 },
  row: { flexDirection: 'row', flexWrap: 'wrap', gap: 8, alignItems: 'center' },
  chip: { borderWidth: 1, borderRadius: 16, paddingVertical: 6, paddingHorizontal: 12 },
  progress: { height: 10, borderRadius: 5, overflow: 'hidden' },
});
