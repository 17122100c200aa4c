// Server-Sent Events over fetch(): EventSource cannot send an Authorization header.
//
// `SSEParser` is the pure part (the WHATWG "event stream" grammar, fed arbitrary text chunks);
// `followEvents` reads a stream with fetch + ReadableStream and reconnects until a final event.

/** Incremental parser: feed() text as it arrives, get back the complete events. */
export class SSEParser {
  constructor() {
    this.buffer = '';
    this.data = [];
    this.type = '';
    this.lastEventId = '';
    this.retry = null;
    this.started = false;
    this.pendingCR = false;
  }

  /** Parse a chunk; returns [{type, data, id}] for every event completed by it. */
  feed(chunk) {
    let text = String(chunk);
    if (!this.started && text) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    // A CR that ended the previous chunk may be the first half of a CRLF.
    if (this.pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.pendingCR = false;
    this.buffer += text;

    const events = [];
    const lineEnd = /\r\n|\r|\n/g;
    let start = 0;
    let match;
    while ((match = lineEnd.exec(this.buffer))) {
      if (match[0] === '\r' && match.index === this.buffer.length - 1) {
        this.pendingCR = true; // could be CRLF split across chunks: the line still ends here
      }
      this.#line(this.buffer.slice(start, match.index), events);
      start = lineEnd.lastIndex;
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  /** End of stream: per the spec an unterminated event is discarded. */
  end() {
    this.buffer = '';
    this.data = [];
    this.type = '';
    return [];
  }

  #line(line, events) {
    if (line === '') {
      if (this.data.length) {
        events.push({
          type: this.type || 'message',
          data: this.data.join('\n'),
          id: this.lastEventId,
        });
      }
      this.data = [];
      this.type = '';
      return;
    }
    if (line.startsWith(':')) return; // comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.type = value;
    else if (field === 'id' && !value.includes('\u0000')) this.lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
  }
}

/** Parse JSON event data; text that is not JSON is passed through unchanged. */
export function parseData(data) {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

export class StreamHttpError extends Error {
  constructor(response) {
    super(`event stream answered ${response.status}`);
    this.name = 'StreamHttpError';
    this.status = response.status;
    this.response = response;
  }
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * Read an event stream until an event whose type is in `finalTypes`, reconnecting whenever the
 * stream ends or breaks before that. Resolves with the final event, or null when aborted.
 *
 * - `open(lastEventId, signal)` returns a fetch() Response (it adds the URL and headers).
 * - `onEvent({type, data, id})` gets every event, data already JSON-parsed.
 * - `onState(state, info)` gets 'connecting' | 'open' | 'reconnecting' (info.delay in ms).
 * - HTTP 4xx answers (other than 408/429) are not retried: the promise rejects with
 *   StreamHttpError so the caller can handle 401/404.
 */
export async function followEvents({
  open,
  onEvent,
  onState = () => {},
  finalTypes = ['done', 'failed'],
  signal,
  retryDelays = [500, 1000, 2000, 4000, 8000],
}) {
  let lastEventId = '';
  let failures = 0;
  while (!signal?.aborted) {
    onState(failures ? 'reconnecting' : 'connecting', {});
    let received = false;
    try {
      const response = await open(lastEventId, signal);
      if (!response.ok) {
        const retryable =
          response.status >= 500 || response.status === 408 || response.status === 429;
        if (!retryable) throw new StreamHttpError(response);
        throw new Error(`event stream answered ${response.status}`);
      }
      onState('open', {});
      const parser = new SSEParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const event of parser.feed(value)) {
            received = true;
            if (event.id) lastEventId = event.id;
            const parsed = { ...event, data: parseData(event.data) };
            onEvent(parsed);
            if (finalTypes.includes(event.type)) {
              reader.cancel().catch(() => {});
              return parsed;
            }
          }
        }
      } finally {
        reader.releaseLock?.();
      }
    } catch (error) {
      if (signal?.aborted || error?.name === 'AbortError') return null;
      if (error instanceof StreamHttpError) throw error;
    }
    // The stream ended (or broke) before a final event: reconnect with backoff.
    if (received) failures = 0;
    const delay = retryDelays[Math.min(failures, retryDelays.length - 1)];
    failures += 1;
    onState('reconnecting', { delay, attempt: failures });
    await sleep(delay, signal);
  }
  return null;
}
