import { useEffect, useState } from 'react';
import { View } from 'react-native';
import { describe } from '../api/messages';
import { loadServerUrl, saveServerUrl, serverUrlIsSetting } from '../config';
import { Body, Button, ErrorBanner, Field } from './ui';

/** On phones: which server to talk to (a LAN address in development). */
export function ServerSetting() {
  const [url, setUrl] = useState('');
  const [saved, setSaved] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    void loadServerUrl().then(setUrl);
  }, []);
  if (!serverUrlIsSetting) return null;
  return (
    <View style={{ gap: 8, marginTop: 24 }}>
      <Field label="Server URL" value={url} onChangeText={setUrl} keyboardType="url" testID="server-url" />
      <ErrorBanner message={error} />
      {saved ? <Body muted>Using {saved}</Body> : null}
      <Button
        kind="secondary"
        title="Use this server"
        onPress={() =>
          saveServerUrl(url)
            .then(() => {
              setSaved(url);
              setError(null);
            })
            .catch((err) => setError(describe(err)))
        }
      />
    </View>
  );
}
