// A tus 1.0.0 client (core + creation + termination), no dependencies.
//
//   POST   endpoint   Upload-Length, Upload-Metadata: filename <base64 UTF-8>  -> 201 Location
//   PATCH  url        Upload-Offset, application/offset+octet-stream chunk      -> 204 Upload-Offset
//   HEAD   url        -> Upload-Offset, Upload-Length (used to resume)
//   DELETE url        (cancel)
//
// Chunks are sent with XMLHttpRequest so `xhr.upload.onprogress` gives real byte progress.
// After a network error, a stalled connection or a 5xx, the client waits (backoff), asks the
// server for its offset with HEAD and continues from there; `retryDelays.length` consecutive
// failures end the upload. The upload URL is remembered (storage) under a fingerprint of the
// file, so a reloaded page that is given the same file again resumes instead of restarting.
//
// The transport is injectable: request({method, url, headers, body, onProgress, signal})
// resolves {status, header(name), text} and rejects with NetworkError (or AbortError).

export const TUS_VERSION = '1.0.0';
export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;
export const DEFAULT_RETRY_DELAYS = [500, 1000, 2000, 4000, 8000];
const STORE_PREFIX = 'ascent.tus.';

export class NetworkError extends Error {
  constructor(message = 'The connection was lost.') {
    super(message);
    this.name = 'NetworkError';
  }
}

/** A non-2xx answer; `problem` is the parsed problem+json when there was one. */
export class UploadHttpError extends Error {
  constructor(status, problem, text = '') {
    super(problem?.detail || problem?.title || text || `The server answered ${status}.`);
    this.name = 'UploadHttpError';
    this.status = status;
    this.problem = problem || null;
    this.code = problem?.code || null;
  }
}

/** base64 of the UTF-8 bytes of `text` (btoa alone only takes Latin-1). */
export function base64Utf8(text) {
  const bytes = new TextEncoder().encode(String(text));
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The Upload-Metadata header: `key base64,key base64`. */
export function encodeMetadata(metadata) {
  return Object.entries(metadata)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([key, value]) => `${key} ${base64Utf8(value)}`)
    .join(',');
}

/** Storage key identifying a file across page loads. */
export function fingerprint(file) {
  return `${STORE_PREFIX}${file.name}:${file.size}:${file.lastModified ?? 0}`;
}

/** Resolve a Location header against the endpoint's URL. */
export function resolveLocation(location, base) {
  return new URL(location, new URL(base, globalThis.location?.href ?? 'http://localhost/')).href;
}

/** The upload id: the last path segment of the upload URL. */
export function uploadIdFromUrl(url) {
  const path = new URL(url, globalThis.location?.href ?? 'http://localhost/').pathname;
  return decodeURIComponent(path.replace(/\/+$/, '').split('/').pop());
}

export const isRetryable = (error) =>
  error instanceof NetworkError ||
  (error instanceof UploadHttpError &&
    (error.status >= 500 || error.status === 408 || error.status === 429 || error.status === 423));

const abortError = () => new DOMException('The upload was cancelled.', 'AbortError');

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(abortError());
      },
      { once: true },
    );
  });
}

/**
 * XMLHttpRequest transport. `stallTimeout` (ms) aborts a request whose upload makes no
 * progress for that long and reports it as a NetworkError, so a dead connection is retried.
 */
export function xhrTransport({ stallTimeout = 30000 } = {}) {
  return ({ method, url, headers = {}, body = null, onProgress, signal }) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError());
      const xhr = new XMLHttpRequest();
      let stallTimer = null;
      let stalled = false;
      const armStall = () => {
        clearTimeout(stallTimer);
        if (!stallTimeout) return;
        stallTimer = setTimeout(() => {
          stalled = true;
          xhr.abort();
        }, stallTimeout);
      };
      const done = () => {
        clearTimeout(stallTimer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => xhr.abort();
      xhr.open(method, url, true);
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (event) => {
        armStall();
        onProgress?.(event.loaded);
      };
      // The body is out: the server may now take a while (the last chunk is probed), which
      // is not a stall.
      xhr.upload.onload = () => clearTimeout(stallTimer);
      xhr.onload = () => {
        done();
        resolve({
          status: xhr.status,
          header: (name) => xhr.getResponseHeader(name),
          text: xhr.responseText,
        });
      };
      xhr.onerror = () => {
        done();
        reject(new NetworkError());
      };
      xhr.ontimeout = xhr.onerror;
      xhr.onabort = () => {
        done();
        reject(stalled ? new NetworkError('The connection stalled.') : abortError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      armStall();
      xhr.send(body);
    });
}

function errorFrom(response) {
  let problem = null;
  try {
    problem = JSON.parse(response.text || '');
    if (typeof problem !== 'object') problem = null;
  } catch {
    /* not JSON */
  }
  const text = /^\s*</.test(response.text || '') ? '' : (response.text || '').slice(0, 300);
  return new UploadHttpError(response.status, problem, text);
}

/**
 * One file's upload. Events (all optional):
 *   onProgress(bytesSent, bytesTotal)  during and between chunks (real bytes on the wire)
 *   onRetry({attempt, delay, error})   before waiting to retry
 *   onState(state)                     'creating' | 'resuming' | 'uploading' | 'processing'
 * `start()` resolves {url, id, resumed} once the server has every byte (and has accepted the
 * file), or rejects: UploadHttpError (4xx: do not retry as is), NetworkError after the last
 * retry, or AbortError after `abort()`.
 */
export class TusUpload {
  constructor(file, options) {
    this.file = file;
    this.options = {
      endpoint: '/v1/uploads',
      chunkSize: DEFAULT_CHUNK_SIZE,
      retryDelays: DEFAULT_RETRY_DELAYS,
      metadata: { filename: file.name },
      headers: () => ({}),
      transport: null,
      storage: globalThis.localStorage,
      onProgress: () => {},
      onRetry: () => {},
      onState: () => {},
      ...options,
    };
    this.request = this.options.transport || xhrTransport();
    this.controller = new AbortController();
    this.url = null;
    this.offset = 0;
    this.resumed = false;
  }

  get key() {
    return fingerprint(this.file);
  }

  #remembered() {
    try {
      const saved = JSON.parse(this.options.storage?.getItem(this.key) || 'null');
      return saved?.url || null;
    } catch {
      return null;
    }
  }

  #remember(url) {
    try {
      this.options.storage?.setItem(this.key, JSON.stringify({ url, savedAt: Date.now() }));
    } catch {
      /* storage full or blocked: resuming after a reload will not be possible */
    }
  }

  /** Forget the stored upload URL (after the job was created, or when it is unusable). */
  forget() {
    try {
      this.options.storage?.removeItem(this.key);
    } catch {
      /* ignore */
    }
  }

  #send(method, url, { headers = {}, body = null, onProgress } = {}) {
    return this.request({
      method,
      url,
      headers: { 'Tus-Resumable': TUS_VERSION, ...this.options.headers(), ...headers },
      body,
      onProgress,
      signal: this.controller.signal,
    });
  }

  async #create() {
    this.options.onState('creating');
    const response = await this.#send('POST', this.options.endpoint, {
      headers: {
        'Upload-Length': String(this.file.size),
        'Upload-Metadata': encodeMetadata(this.options.metadata),
      },
    });
    if (response.status !== 201 && response.status !== 200) throw errorFrom(response);
    const location = response.header('Location');
    if (!location) throw new UploadHttpError(response.status, null, 'No upload URL (Location).');
    this.url = resolveLocation(location, this.options.endpoint);
    this.offset = 0;
    this.#remember(this.url);
  }

  /** HEAD: the server's offset. Returns null when the upload no longer exists there. */
  async #head() {
    const response = await this.#send('HEAD', this.url, {
      headers: { 'Cache-Control': 'no-store' },
    });
    if (response.status === 404 || response.status === 410 || response.status === 403) return null;
    if (response.status < 200 || response.status >= 300) throw errorFrom(response);
    const offset = Number.parseInt(response.header('Upload-Offset') ?? '', 10);
    const length = response.header('Upload-Length');
    if (!Number.isFinite(offset) || offset < 0) {
      throw new UploadHttpError(response.status, null, 'The server sent no Upload-Offset.');
    }
    if (length !== null && length !== undefined && Number(length) !== this.file.size) return null;
    return Math.min(offset, this.file.size);
  }

  async #patch() {
    const start = this.offset;
    const end = Math.min(start + this.options.chunkSize, this.file.size);
    const response = await this.#send('PATCH', this.url, {
      headers: {
        'Upload-Offset': String(start),
        'Content-Type': 'application/offset+octet-stream',
      },
      body: this.file.slice(start, end),
      onProgress: (loaded) => {
        const sent = Math.min(start + loaded, end);
        this.options.onProgress(sent, this.file.size);
        if (sent >= this.file.size) this.options.onState('processing');
      },
    });
    if (response.status === 409) return 'conflict';
    if (response.status < 200 || response.status >= 300) throw errorFrom(response);
    const next = Number.parseInt(response.header('Upload-Offset') ?? '', 10);
    this.offset = Number.isFinite(next) ? next : end;
    this.options.onProgress(this.offset, this.file.size);
    return 'ok';
  }

  async start() {
    const { retryDelays } = this.options;
    const stored = this.#remembered();
    let needSync = false;
    let restarts = 0;
    let conflicts = 0;
    let failures = 0;
    if (stored) {
      this.url = stored;
      this.resumed = true;
      this.options.onState('resuming');
      needSync = true;
    }
    for (;;) {
      try {
        if (this.controller.signal.aborted) throw abortError();
        if (!this.url) {
          await this.#create();
        } else if (needSync) {
          const offset = await this.#head();
          needSync = false;
          if (offset === null) {
            // The server no longer has it (expired, deleted): start again, once.
            if (restarts >= 1) throw new UploadHttpError(404, null, 'The upload disappeared.');
            restarts += 1;
            this.forget();
            this.url = null;
            this.resumed = false;
            continue;
          }
          this.offset = offset;
          this.options.onProgress(offset, this.file.size);
        }
        if (this.offset >= this.file.size && this.file.size > 0) break;
        this.options.onState('uploading');
        const outcome = await this.#patch();
        if (outcome === 'conflict') {
          // Our offset is not the server's: ask it, a few times at most.
          conflicts += 1;
          if (conflicts > 3)
            throw new UploadHttpError(409, null, 'The upload offset kept changing.');
          needSync = true;
          continue;
        }
        failures = 0;
        if (this.offset >= this.file.size) break;
      } catch (error) {
        if (error?.name === 'AbortError' || this.controller.signal.aborted) throw abortError();
        if (error instanceof UploadHttpError && error.status >= 400 && error.status < 500) {
          // 4xx on a chunk (413, 422 not media, ...): the server dropped the upload.
          if (error.status !== 401 && error.status !== 429 && error.status !== 408) this.forget();
        }
        if (!isRetryable(error) || failures >= retryDelays.length) throw error;
        const delay = retryDelays[failures];
        failures += 1;
        this.options.onRetry({ attempt: failures, of: retryDelays.length, delay, error });
        await sleep(delay, this.controller.signal);
        if (this.url) needSync = true;
      }
    }
    return { url: this.url, id: uploadIdFromUrl(this.url), resumed: this.resumed };
  }

  /** Stop sending; with `terminate`, also DELETE the upload on the server and forget it. */
  async abort({ terminate = false } = {}) {
    this.controller.abort();
    if (!terminate) return;
    this.forget();
    if (!this.url) return;
    try {
      await this.request({
        method: 'DELETE',
        url: this.url,
        headers: { 'Tus-Resumable': TUS_VERSION, ...this.options.headers() },
      });
    } catch {
      /* best effort */
    }
  }
}
