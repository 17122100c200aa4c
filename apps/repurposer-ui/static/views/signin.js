// The sign-in form: paste a workspace API key (asc_...).

import { clearKey, errorFromResponse, setKey } from '../api.js';
import { h, mount } from '../dom.js';

export function renderSignIn(main, { message = '', onSignedIn }) {
  const input = h('input', {
    id: 'api-key',
    name: 'api-key',
    type: 'password',
    required: true,
    autocomplete: 'off',
    spellcheck: 'false',
    autocapitalize: 'off',
    placeholder: 'asc_…',
    'aria-describedby': 'api-key-help',
    testid: 'signin-key',
  });
  const show = h('input', { type: 'checkbox', id: 'api-key-show', testid: 'signin-show' });
  show.addEventListener('change', () => {
    input.type = show.checked ? 'text' : 'password';
  });
  const box = h('p', {
    class: 'alert alert--error',
    role: 'alert',
    hidden: !message,
    testid: 'signin-message',
  });
  box.textContent = message;
  const submit = h('button', { class: 'btn', type: 'submit', testid: 'signin-submit' }, 'Sign in');

  const form = h(
    'form',
    { class: 'panel signin', testid: 'signin-form', novalidate: true },
    h('h1', {}, 'Sign in'),
    box,
    h('label', { for: 'api-key', class: 'field__label' }, 'Workspace API key'),
    input,
    h(
      'p',
      { id: 'api-key-help', class: 'hint' },
      'Open the sign-in link the service prints when it starts (',
      h('code', {}, 'http://host:port/#key=asc_…'),
      ') or paste a workspace API key. It is kept in this browser only.',
    ),
    h('label', { class: 'check' }, show, ' Show the key'),
    h('div', { class: 'actions' }, submit),
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      box.textContent = 'Paste your API key first.';
      box.hidden = false;
      input.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Checking…';
    try {
      // Check the key with a cheap call before keeping it.
      const response = await fetch('/v1/jobs', {
        headers: { Authorization: `Bearer ${key}`, Accept: 'application/json' },
      });
      if (response.status === 401 || response.status === 403) {
        clearKey();
        box.textContent = 'That key was not accepted. Check it and try again.';
        box.hidden = false;
        input.select();
        return;
      }
      if (!response.ok && response.status >= 500) throw await errorFromResponse(response);
      setKey(key);
      onSignedIn();
    } catch (error) {
      box.textContent = `The service could not be reached (${error.message}). Try again in a moment.`;
      box.hidden = false;
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });

  mount(main, form);
  input.focus();
  return null;
}
