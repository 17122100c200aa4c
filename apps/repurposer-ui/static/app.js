// Ascent Repurposer UI: sign-in, hash routing and the views.
//
//   #/            upload a recording and choose options (views/new-job.js)
//   #/jobs        recent jobs (views/jobs.js)
//   #/jobs/<id>   live progress, then results (views/job.js, views/results.js)
//
// The service's sign-in link is /#key=asc_...: the key is stored and the fragment removed.

import { getKey, onAuthRequired, clearKey, setKey, takeKeyFromHash } from './api.js';
import { renderSignIn } from './views/signin.js';
import { renderNewJob } from './views/new-job.js';
import { renderJobs } from './views/jobs.js';
import { renderJob } from './views/job.js';
import { h, mount } from './dom.js';

const main = document.getElementById('main');
let cleanup = null;
let firstRoute = true;
let returnTo = '';

const ROUTES = [
  { pattern: /^\/?$/, name: 'new', render: (el) => renderNewJob(el) },
  { pattern: /^\/jobs\/?$/, name: 'jobs', render: (el) => renderJobs(el) },
  {
    pattern: /^\/jobs\/([^/?#]+)\/?$/,
    name: 'job',
    render: (el, match) => renderJob(el, decodeURIComponent(match[1])),
  },
];

function leaveView() {
  if (cleanup) {
    try {
      cleanup();
    } catch (error) {
      console.error(error);
    }
  }
  cleanup = null;
}

function setNav(name) {
  for (const link of document.querySelectorAll('[data-route]')) {
    if (link.dataset.route === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

/** A sign-in link (#key=...) opened in this tab: store the key, drop it from the address. */
function absorbKeyFromHash() {
  const { key, rest } = takeKeyFromHash(location.hash);
  if (!key) return;
  setKey(key);
  history.replaceState(history.state, '', `${location.pathname}${location.search}${rest}`);
}

/**
 * On the machine running a development server, the service hands the local workspace a key
 * (POST /v1/dev/sign-in answers 404 anywhere else, and always in production).
 */
async function localSignIn() {
  try {
    const response = await fetch('/v1/dev/sign-in', { method: 'POST' });
    if (!response.ok) return false;
    const { key } = await response.json();
    if (!key) return false;
    setKey(key);
    return true;
  } catch {
    return false;
  }
}

let triedLocalSignIn = false;

async function route() {
  absorbKeyFromHash();
  if (!getKey() && !triedLocalSignIn) {
    triedLocalSignIn = true;
    await localSignIn();
  }
  if (!getKey()) {
    showSignIn();
    return;
  }
  document.body.classList.remove('signed-out');
  const path = location.hash.replace(/^#/, '').split('?')[0] || '/';
  leaveView();
  main.removeAttribute('aria-busy');
  let found = null;
  for (const candidate of ROUTES) {
    const match = path.match(candidate.pattern);
    if (match) {
      found = { candidate, match };
      break;
    }
  }
  if (!found) {
    setNav(null);
    mount(
      main,
      h(
        'section',
        { class: 'panel empty', testid: 'not-found' },
        h('h1', {}, 'Page not found'),
        h('p', {}, 'There is nothing at this address. '),
        h('a', { class: 'btn', href: '#/' }, 'Upload a recording'),
      ),
    );
  } else {
    setNav(found.candidate.name);
    cleanup = found.candidate.render(main, found.match) || null;
  }
  if (!firstRoute) {
    // Move focus to the new view's heading so keyboard and screen-reader users follow along.
    const heading = main.querySelector('h1');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus({ preventScroll: true });
    }
    window.scrollTo(0, 0);
  }
  firstRoute = false;
}

function showSignIn(message = '') {
  const current = location.hash;
  if (current && !document.body.classList.contains('signed-out')) returnTo = current;
  document.body.classList.add('signed-out');
  setNav(null);
  if (main.querySelector('[data-testid="signin-form"]')) {
    // Already there (several calls may answer 401 at once): just update the message.
    const box = main.querySelector('[data-testid="signin-message"]');
    if (box && message) {
      box.textContent = message;
      box.hidden = false;
    }
    return;
  }
  leaveView();
  cleanup = renderSignIn(main, {
    message,
    onSignedIn() {
      document.body.classList.remove('signed-out');
      const target = returnTo;
      returnTo = '';
      if (target && target !== location.hash) location.hash = target;
      else route();
    },
  });
}

function boot() {
  onAuthRequired((message) => showSignIn(message));
  window.addEventListener('hashchange', route);
  document.querySelector('[data-testid="signout"]').addEventListener('click', () => {
    clearKey();
    returnTo = '';
    history.replaceState(history.state, '', `${location.pathname}${location.search}`);
    showSignIn('You are signed out. Paste an API key to sign in again.');
  });
  route();
}

boot();
