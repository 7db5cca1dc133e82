// Shown when GET /api/v1/session answers 401: logs in with POST /api/v1/session and keeps its CSRF token.
import { useState } from 'preact/hooks';
import { ApiError, errorText, login } from '../api.js';
import type { Session } from '../types.js';

export function LoginPage(props: { onLogin: (s: Session) => void }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      props.onLogin(await login(user, password));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'Wrong user name or password.' : errorText(err));
      setBusy(false);
    }
  };

  return (
    <form class="login" onSubmit={(e) => void submit(e)} aria-labelledby="login-title">
      <h1 id="login-title">Login</h1>
      <label>
        User
        <input name="user" autoComplete="username" required value={user} onInput={(e) => setUser(e.currentTarget.value)} autoFocus />
      </label>
      <label>
        Password
        <input name="password" type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Logging in…' : 'Log in'}
      </button>
    </form>
  );
}
