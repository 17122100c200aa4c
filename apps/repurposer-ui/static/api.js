// The API key and every call to the repurposer's /v1 API (services/repurposer/API.md).

const KEY_ITEM = 'ascent.repurposer.key';
const memory = new Map();

/** localStorage that degrades to memory when storage is blocked. */
export const storage = {
  getItem(name) {
    try {
      const value = localStorage.getItem(name);
      if (value !== null) return value;
    } catch {
      /* blocked: memory only */
    }
    return memory.has(name) ? memory.get(name) : null;
  },
  setItem(name, value) {
    memory.set(name, String(value));
    try {
      localStorage.setItem(name, String(value));
    } catch {
      /* memory only */
    }
  },
  removeItem(name) {
    memory.delete(name);
    try {
      localStorage.removeItem(name);
    } catch {
      /* memory only */
    }
  },
};

export const getKey = () => storage.getItem(KEY_ITEM);
export const setKey = (key) => storage.setItem(KEY_ITEM, key.trim());
export const clearKey = () => storage.removeItem(KEY_ITEM);

/** Headers every call carries. */
export function authHeaders() {
  const key = getKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/**
 * Take `key=...` out of a location hash (the service's sign-in link is /#key=asc_...).
 * Returns {key, rest}: `rest` is the hash without the key ('' when nothing else was there).
 */
export function takeKeyFromHash(hash) {
  const raw = String(hash || '').replace(/^#/, '');
  const [path, query = ''] = raw.startsWith('/') ? raw.split(/\?(.*)/s) : ['', raw];
  const params = new URLSearchParams(query);
  const key = params.get('key');
  if (!key) return { key: null, rest: hash || '' };
  params.delete('key');
  const left = params.toString();
  const rest = path ? `#${path}${left ? `?${left}` : ''}` : left ? `#${left}` : '';
  return { key: key.trim(), rest };
}

/** An HTTP error with the problem+json document when the server sent one. */
export class ApiError extends Error {
  constructor(status, problem, fallback) {
    const detail = problem?.detail || problem?.title || fallback || `HTTP ${status}`;
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem || null;
    this.code = problem?.code || null;
  }
}

/** Read an error answer: problem+json (or any JSON with detail/title) or plain text. */
export async function errorFromResponse(response) {
  let problem = null;
  let text = '';
  try {
    text = await response.text();
    problem = JSON.parse(text);
    if (typeof problem !== 'object' || problem === null) problem = null;
    else if (Array.isArray(problem.detail)) {
      // FastAPI validation errors: [{loc, msg}]
      problem = { ...problem, detail: problem.detail.map((d) => d.msg || String(d)).join('; ') };
    }
  } catch {
    /* not JSON */
  }
  const fallback =
    text && text.length < 300 && !/^\s*</.test(text) ? text.trim() : response.statusText;
  return new ApiError(response.status, problem, fallback);
}

// Listeners told when a call answered 401 (the app shows the sign-in form).
const authListeners = new Set();
export function onAuthRequired(listener) {
  authListeners.add(listener);
  return () => authListeners.delete(listener);
}
export function authRequired(message) {
  clearKey();
  for (const listener of authListeners) listener(message);
}
export const UNAUTHORIZED_MESSAGE =
  'Your API key was not accepted (it may have been revoked or mistyped). Paste a valid key to continue.';

/** fetch() a /v1 path with the key; a 401 signs the user out. Returns the Response. */
export async function apiFetch(path, { headers = {}, ...init } = {}) {
  const response = await fetch(path, { ...init, headers: { ...authHeaders(), ...headers } });
  if (response.status === 401) authRequired(UNAUTHORIZED_MESSAGE);
  return response;
}

/** Call the API and return the JSON answer (null for 204); throws ApiError otherwise. */
export async function api(path, { method = 'GET', body, signal, headers = {} } = {}) {
  const init = { method, signal, headers: { Accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const response = await apiFetch(path, init);
  if (!response.ok) throw await errorFromResponse(response);
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

const enc = encodeURIComponent;

export const listJobs = async (signal) => {
  const answer = await api('/v1/jobs', { signal });
  // The contract says "lists the jobs"; accept a bare list or {jobs|items: [...]}.
  if (Array.isArray(answer)) return answer;
  return answer?.jobs || answer?.items || answer?.data || [];
};
export const getJob = (id, signal) => api(`/v1/jobs/${enc(id)}`, { signal });
export const createJob = (body) => api('/v1/jobs', { method: 'POST', body });
export const getResults = (id, signal) => api(`/v1/jobs/${enc(id)}/results`, { signal });
export const getAsset = (id, kind, signal) =>
  api(`/v1/jobs/${enc(id)}/assets/${enc(kind)}`, { signal });
export const saveAsset = (id, kind, { title, body }) =>
  api(`/v1/jobs/${enc(id)}/assets/${enc(kind)}`, { method: 'PUT', body: { title, body } });
export const regenerateAsset = (id, kind, instruction) =>
  api(`/v1/jobs/${enc(id)}/assets/${enc(kind)}/regenerate`, {
    method: 'POST',
    body: instruction ? { instruction } : {},
  });
export const getUpload = (id, signal) => api(`/v1/uploads/${enc(id)}`, { signal });

/** Open the job's event stream (used by sse.followEvents). */
export function openJobEvents(id, lastEventId, signal) {
  const headers = { Accept: 'text/event-stream', 'Cache-Control': 'no-cache' };
  if (lastEventId) headers['Last-Event-ID'] = lastEventId;
  return apiFetch(`/v1/jobs/${enc(id)}/events`, { headers, signal, cache: 'no-store' });
}

const wait = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new DOMException('aborted', 'AbortError'));
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new DOMException('aborted', 'AbortError'));
      },
      { once: true },
    );
  });

export class TimeoutError extends Error {
  constructor(message) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/**
 * Poll `fetchAsset()` every `interval` ms until its `version` is above `afterVersion`.
 * Resolves with the new asset; rejects with TimeoutError after `timeout` ms, or AbortError.
 * Failed polls (network, 5xx) are tolerated; ApiError 4xx other than 404/409 is thrown.
 */
export async function waitForNewVersion({
  fetchAsset,
  afterVersion,
  interval = 2000,
  timeout = 180000,
  signal,
  now = () => Date.now(),
}) {
  const deadline = now() + timeout;
  for (;;) {
    await wait(Math.max(0, Math.min(interval, deadline - now())), signal);
    try {
      const asset = await fetchAsset(signal);
      if (asset && Number(asset.version) > Number(afterVersion)) return asset;
    } catch (error) {
      if (error?.name === 'AbortError') throw error;
      const status = error?.status;
      if (status && status < 500 && status !== 404 && status !== 409 && status !== 429) throw error;
    }
    if (now() >= deadline) {
      throw new TimeoutError('The new version did not arrive within the time limit.');
    }
  }
}
