import { configure } from '@testing-library/react-native';

// The first render of a screen transforms and loads most of the app; on a busy two-core
// machine that alone can take seconds, so waits allow for it.
configure({ asyncUtilTimeout: 10000 });
