import { Link, useRouter } from 'expo-router';
import { useState } from 'react';
import { auth } from '../src/api/endpoints';
import { useApp } from '../src/AppContext';
import { Body, Button, ErrorBanner, Field, Screen, Title } from '../src/components/ui';
import { ServerSetting } from '../src/components/ServerSetting';
import { useAction } from '../src/hooks/useAsync';

export default function Login() {
  const { api, theme } = useApp();
  const router = useRouter();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const login = useAction(async () => {
    await auth.login(api, email.trim(), password);
    router.replace('/feed');
  });
  return (
    <Screen>
      <Title>MHC Live</Title>
      <Body muted>Live shows, videos and the artists behind them.</Body>
      <Field label="Email" value={email} onChangeText={setEmail} keyboardType="email-address" autoComplete="email" testID="email" />
      <Field label="Password" value={password} onChangeText={setPassword} secureTextEntry autoComplete="password" testID="password" />
      <ErrorBanner message={login.error} />
      <Button title="Sign in" onPress={() => void login.run()} busy={login.busy} disabled={!email || !password} testID="login" />
      <Link href="/register" style={{ color: theme.accent }}>Create an account</Link>
      <Link href="/forgot" style={{ color: theme.accent }}>Forgot your password?</Link>
      <ServerSetting />
    </Screen>
  );
}
