import { useRouter } from 'expo-router';
import { useState } from 'react';
import { auth } from '../src/api/endpoints';
import { useApp } from '../src/AppContext';
import { Body, Button, ErrorBanner, Field, Screen, Title } from '../src/components/ui';
import { useAction } from '../src/hooks/useAsync';

export default function Forgot() {
  const { api } = useApp();
  const router = useRouter();
  const [email, setEmail] = useState('');
  const [token, setToken] = useState('');
  const [password, setPassword] = useState('');
  const [sent, setSent] = useState(false);
  const request = useAction(async () => {
    await auth.forgot(api, email.trim());
    setSent(true);
  });
  const reset = useAction(async () => {
    await auth.reset(api, token.trim(), password);
    router.replace('/login');
  });
  return (
    <Screen>
      <Title>Reset your password</Title>
      <Field label="Email" value={email} onChangeText={setEmail} keyboardType="email-address" testID="email" />
      <ErrorBanner message={request.error} />
      <Button title="Email me a reset code" onPress={() => void request.run()} busy={request.busy} disabled={!email} />
      {sent ? <Body muted>If an account exists for {email}, a message with a reset code is on its way.</Body> : null}
      <Field label="Reset code from the email" value={token} onChangeText={setToken} />
      <Field label="New password" value={password} onChangeText={setPassword} secureTextEntry />
      <ErrorBanner message={reset.error} />
      <Button title="Set new password" onPress={() => void reset.run()} busy={reset.busy} disabled={!token || password.length < 8} />
    </Screen>
  );
}
