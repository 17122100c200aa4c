/*! Ascent shopbot chat widget | Apache-2.0 */
// Embeddable shopping-assistant chat. Plain ES2020, one IIFE, no dependencies.
// Wire protocol: services/shopbot/PROTOCOL.md. Minified by apps/chat-widget/build.py (rjsmin):
// keep template literals flat (no template literal nested inside `${...}`), rjsmin does not
// understand nesting.
(() => {
  'use strict';

  const doc = document;
  const script = doc.currentScript || doc.querySelector('script[data-store-key]');
  if (!script) return;
  const attr = (name) => script.getAttribute('data-' + name);
  const key = attr('store-key') || '';
  if (!key) {
    console.warn('[ascent-shopbot] data-store-key is missing; the widget is not started.');
    return;
  }
  // One widget per store key, even if the tag is included twice.
  const G = Symbol.for('ascent-shopbot');
  const started = (window[G] = window[G] || new Set());
  if (started.has(key)) return;
  started.add(key);

  let api = attr('api');
  if (!api) {
    try {
      api = new URL(script.src, location.href).origin;
    } catch (e) {
      api = location.origin;
    }
  }
  api = api.replace(/\/+$/, '');
  const title = attr('title') || 'Shopping assistant';
  const openAttr = attr('open');
  const startOpen = openAttr !== null && openAttr !== 'false';
  const locale = doc.documentElement.lang || navigator.language || undefined;
  const enc = encodeURIComponent;
  const str = (v) => (v == null ? '' : String(v));

  // ---- storage (localStorage when allowed, memory otherwise) ----------------------------
  const mem = {};
  const load = (k) => {
    try {
      const v = localStorage.getItem(k);
      if (v !== null) return v;
    } catch (e) {
      /* blocked storage: fall back to memory */
    }
    return k in mem ? mem[k] : null;
  };
  const save = (k, v) => {
    mem[k] = String(v);
    try {
      localStorage.setItem(k, String(v));
    } catch (e) {
      /* memory only */
    }
  };
  const uuid = () => {
    try {
      return crypto.randomUUID();
    } catch (e) {
      // Insecure context: build a v4 uuid by hand.
      const b = crypto.getRandomValues(new Uint8Array(16));
      b[6] = (b[6] & 15) | 64;
      b[8] = (b[8] & 63) | 128;
      const x = Array.from(b, (n) => n.toString(16).padStart(2, '0')).join('');
      return [x.slice(0, 8), x.slice(8, 12), x.slice(12, 16), x.slice(16, 20), x.slice(20)].join('-');
    }
  };

  const PFX = 'ascent-shopbot:' + key + ':';
  let sid = load(PFX + 'session');
  if (!sid) save(PFX + 'session', (sid = uuid()));
  const lastKey = () => PFX + sid + ':last';
  // Highest event id this browser rendered for the session before this page load: used to tell
  // whether a replayed answer is new (unread badge) and whether a conversation exists.
  const prevSeen = +load(lastKey()) || 0;
  let last = 0; // highest event id rendered in this page (dedupe + `after` on reconnect)

  // ---- DOM helpers (text only through textContent / text nodes) -------------------------
  const h = (tag, props, ...kids) => {
    const el = doc.createElement(tag);
    for (const k in props || {}) {
      const v = props[k];
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of kids) if (c != null) el.append(c);
    return el;
  };
  const NS = 'http://www.w3.org/2000/svg';
  const icon = (d) => {
    const s = doc.createElementNS(NS, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('aria-hidden', 'true');
    s.setAttribute('focusable', 'false');
    const p = doc.createElementNS(NS, 'path');
    p.setAttribute('d', d);
    s.append(p);
    return s;
  };
  // Only absolute http(s) URLs are used as href/src.
  const safeUrl = (u) => {
    if (typeof u !== 'string' || !u) return null;
    try {
      const x = new URL(u);
      return x.protocol === 'http:' || x.protocol === 'https:' ? x.href : null;
    } catch (e) {
      return null;
    }
  };
  const numFmt = (n, opts) => {
    for (const l of [locale, undefined]) {
      try {
        return new Intl.NumberFormat(l, opts).format(n);
      } catch (e) {
        /* bad locale or currency: try the next */
      }
    }
    return null;
  };
  const price = (v, cur) => {
    const n = typeof v === 'number' ? v : parseFloat(v);
    if (!isFinite(n)) return '';
    if (cur) return numFmt(n, { style: 'currency', currency: String(cur) }) || n.toFixed(2) + ' ' + cur;
    return numFmt(n, { minimumFractionDigits: 2, maximumFractionDigits: 2 }) || n.toFixed(2);
  };

  // ---- styles ------------------------------------------------------------------------------
  // px only (never rem: the host page owns the root font size); colours via custom properties,
  // which (unlike everything else) inherit into the shadow tree, so the host page can theme.
  const CSS = `
:host{all:initial!important}
.w{--a:var(--ascent-shopbot-accent,#1d4ed8);--at:var(--ascent-shopbot-accent-text,#fff);--bg:var(--ascent-shopbot-background,#fff);--fg:var(--ascent-shopbot-text,#111827);--mu:var(--ascent-shopbot-muted,#4b5563);--bb:var(--ascent-shopbot-bot-bubble,#f3f4f6);--fo:var(--ascent-shopbot-focus,#b45309);--ln:#d1d5db;font:400 14px/1.45 var(--ascent-shopbot-font,system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif);color:var(--fg);text-align:left;direction:ltr}
*,::before,::after{box-sizing:border-box}
button,input{font:inherit;color:inherit;margin:0;letter-spacing:normal;text-transform:none}
button{cursor:pointer}
:focus-visible{outline:3px solid var(--fo);outline-offset:2px}
header :focus-visible{outline-color:var(--at);outline-offset:-3px}
.sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
.launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:56px;height:56px;padding:0;border:0;border-radius:50%;background:var(--a);color:var(--at);box-shadow:0 4px 14px rgba(0,0,0,.3);display:flex;align-items:center;justify-content:center}
.launcher svg{width:28px;height:28px;fill:currentColor}
.badge{position:absolute;top:2px;right:2px;width:14px;height:14px;border-radius:50%;background:#dc2626;border:2px solid #fff}
[hidden]{display:none!important}
.panel{position:fixed;right:20px;bottom:88px;z-index:2147483001;width:370px;max-width:calc(100vw - 40px);height:560px;max-height:calc(100vh - 108px);display:flex;flex-direction:column;background:var(--bg);color:var(--fg);border:1px solid var(--ln);border-radius:12px;box-shadow:0 10px 30px rgba(0,0,0,.25);overflow:hidden}
header{display:flex;align-items:center;gap:8px;padding:10px 10px 10px 16px;background:var(--a);color:var(--at)}
h2{margin:0;flex:1;font-size:16px;font-weight:600;line-height:1.3;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.close{width:36px;height:36px;padding:0;border:0;border-radius:8px;background:transparent;display:flex;align-items:center;justify-content:center}
.close:hover{background:rgba(255,255,255,.18)}
.close svg{width:20px;height:20px;fill:none;stroke:currentColor;stroke-width:2.5;stroke-linecap:round}
.conn{margin:0;padding:4px 16px;font-size:12px;color:var(--mu);border-bottom:1px solid var(--ln);display:flex;align-items:center;gap:6px}
.conn::before{content:"";flex:none;width:8px;height:8px;border-radius:50%;background:#9ca3af}
.conn[data-state=online]::before{background:#16a34a}
.conn[data-state=connecting]::before,.conn[data-state=reconnecting]::before{background:#d97706}
.conn[data-state=offline]::before,.conn[data-state=error]::before{background:#dc2626}
.log{flex:1;overflow-y:auto;overscroll-behavior:contain;padding:12px;display:flex;flex-direction:column;gap:8px}
.hint{margin:0;color:var(--mu);text-align:center}
.msg{margin:0;max-width:85%;padding:8px 12px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere}
.user{align-self:flex-end;background:var(--a);color:var(--at);border-bottom-right-radius:4px}
.pending{opacity:.75}
.failed{background:#fee2e2;color:#7f1d1d}
.note{display:block;font-size:12px}
.bot{align-self:flex-start;background:var(--bb);color:var(--fg);border-bottom-left-radius:4px}
.streaming::after{content:"\\258D";animation:blink 1s steps(2) infinite}
.corr{margin-top:6px;font-size:12px;color:var(--mu);white-space:normal}
.corr summary{cursor:pointer}
.corr ul{margin:4px 0 0;padding-left:18px}
.notice,.error{align-self:stretch;max-width:none;border-radius:8px;font-size:13px}
.notice{background:#eff6ff;color:#1e3a8a;border:1px solid #bfdbfe}
.error{background:#fef2f2;color:#991b1b;border:1px solid #fecaca}
.cards{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:8px;align-self:stretch}
.card{display:flex;gap:10px;padding:8px;border:1px solid var(--ln);border-radius:10px;background:var(--bg)}
.card img{flex:none;width:64px;height:64px;object-fit:cover;border-radius:6px;background:var(--bb)}
.info{min-width:0;display:flex;flex-direction:column;gap:2px}
.t{font-weight:600;overflow-wrap:anywhere}
a.t{color:var(--a);text-decoration:underline}
.price{font-weight:600}
.stock{font-size:12px}
.in{color:#15803d}
.out{color:#b91c1c}
form{display:flex;gap:8px;padding:10px 12px;border-top:1px solid var(--ln);background:var(--bg)}
input{flex:1;min-width:0;height:40px;padding:0 12px;border:1px solid #6b7280;border-radius:8px;background:var(--bg)}
input::placeholder{color:#6b7280;opacity:1}
.send{height:40px;padding:0 16px;border:0;border-radius:8px;background:var(--a);color:var(--at);font-weight:600}
@media (max-width:479.98px){.panel{inset:0;width:100%;max-width:none;height:100%;max-height:none;border:0;border-radius:0}.open .launcher{display:none}}
@media (prefers-reduced-motion:reduce){.streaming::after{animation:none}}
@keyframes blink{50%{opacity:0}}
`;

  // ---- skeleton (shadow DOM, mode "open" so tests and host-page tooling can inspect it) ------
  const host = doc.createElement('ascent-shopbot');
  host.style.setProperty('all', 'initial', 'important');
  host.setAttribute('data-store-key', key);
  const root = host.attachShadow({ mode: 'open' });
  try {
    // Constructable stylesheets are not blocked by a host page's `style-src` CSP.
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } catch (e) {
    root.append(h('style', { text: CSS }));
  }

  const badge = h('span', { class: 'badge', hidden: true });
  const launcher = h(
    'button',
    {
      type: 'button',
      class: 'launcher',
      'aria-label': title + ' chat',
      'aria-expanded': 'false',
      'aria-controls': 'asb-panel',
      onclick: () => setOpen(!isOpen),
    },
    icon('M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z'),
    badge,
  );
  const closeBtn = h(
    'button',
    { type: 'button', class: 'close', 'aria-label': 'Close chat', onclick: () => setOpen(false) },
    icon('M6 6l12 12M18 6L6 18'),
  );
  const conn = h('p', { class: 'conn', 'aria-live': 'polite', 'data-state': 'idle', text: 'Not connected' });
  const log = h(
    'div',
    { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation', tabindex: '0' },
    h('p', { class: 'hint', text: 'Ask me about products, sizes, prices or stock.' }),
  );
  const input = h('input', {
    type: 'text',
    name: 'message',
    autocomplete: 'off',
    maxlength: '2000',
    enterkeyhint: 'send',
    placeholder: 'Type your message…',
    'aria-label': 'Message',
  });
  const form = h(
    'form',
    { onsubmit: (e) => (e.preventDefault(), submit()) },
    input,
    h('button', { type: 'submit', class: 'send', 'aria-label': 'Send message' }, 'Send'),
  );
  const panel = h(
    'section',
    { id: 'asb-panel', class: 'panel', role: 'dialog', 'aria-labelledby': 'asb-title', hidden: true },
    h('header', null, h('h2', { id: 'asb-title', text: title }), closeBtn),
    conn,
    log,
    form,
  );
  const wrap = h('div', { class: 'w' }, panel, launcher);
  wrap.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && isOpen) {
      e.preventDefault();
      setOpen(false);
    }
  });
  root.append(wrap);

  // ---- panel state ---------------------------------------------------------------------------
  let isOpen = false;
  const setOpen = (v, focus = true) => {
    isOpen = v;
    panel.hidden = !v;
    wrap.classList.toggle('open', v);
    launcher.setAttribute('aria-expanded', String(v));
    if (v) {
      unread(false);
      start();
      log.scrollTop = log.scrollHeight;
      if (focus) input.focus();
    } else if (focus) launcher.focus();
  };
  const unread = (v) => {
    badge.hidden = !v;
    launcher.setAttribute('aria-label', title + (v ? ' chat, new messages' : ' chat'));
  };
  const STATES = {
    idle: 'Not connected',
    connecting: 'Connecting…',
    online: 'Online',
    offline: 'Offline. Messages will be sent when you are back online.',
    error: 'Unavailable',
  };
  const setConn = (state, secs) => {
    conn.setAttribute('data-state', state);
    conn.textContent = state === 'reconnecting' ? 'Reconnecting in ' + secs + ' s…' : STATES[state];
  };

  // ---- message log ---------------------------------------------------------------------------
  const add = (el) => {
    const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    log.append(el);
    if (stick) log.scrollTop = log.scrollHeight;
    return el;
  };
  const busy = (v) => (v ? log.setAttribute('aria-busy', 'true') : log.removeAttribute('aria-busy'));
  const userBubble = (text) => add(h('p', { class: 'msg user', text }));
  const turns = new Map(); // turn -> assistant bubble
  const botFor = (turn) => {
    let b = turns.get(turn);
    if (!b) {
      b = add(h('div', { class: 'msg bot streaming' }, h('span', { class: 'tx' })));
      turns.set(turn, b);
    }
    return b;
  };
  const status = (cls, role, text) => add(h('p', { class: 'msg ' + cls, role, text }));
  const ERRORS = {
    __proto__: null,
    rate_limited: 'You are sending messages too quickly.',
    too_long: 'That message is too long.',
    bad_message: 'That message could not be sent.',
    busy: 'The assistant is busy. Please try again.',
    internal: 'Something went wrong. Please try again.',
  };

  const card = (p) => {
    const name = str(p.title) || str(p.sku) || 'Product';
    const url = safeUrl(p.url);
    const img = safeUrl(p.image);
    const inStock = p.in_stock === true;
    const track = () => click(p.sku);
    return h(
      'li',
      { class: 'card', 'data-sku': str(p.sku) },
      img &&
        h('img', {
          src: img,
          alt: name,
          width: '64',
          height: '64',
          loading: 'lazy',
          decoding: 'async',
          onerror: (e) => e.target.remove(),
        }),
      h(
        'div',
        { class: 'info' },
        url
          ? h(
              'a',
              {
                class: 't',
                href: url,
                target: '_blank',
                rel: 'noopener',
                onclick: track,
                onauxclick: (e) => e.button === 1 && track(),
              },
              name,
              h('span', { class: 'sr', text: ' (opens in a new tab)' }),
            )
          : h('span', { class: 't', text: name }),
        h('span', { class: 'price', text: price(p.price, p.currency) }),
        h('span', { class: 'stock ' + (inStock ? 'in' : 'out'), text: inStock ? 'In stock' : 'Out of stock' }),
      ),
    );
  };

  // ---- connection ----------------------------------------------------------------------------
  let ws = null;
  let ready = false;
  let attempt = 0;
  let timer = 0;
  let pinger = 0;
  let quietPings = 0;
  let wanted = false; // a connection has been asked for (panel opened or a conversation exists)
  let stopped = false; // refused (4403/4400): never reconnect
  const pending = []; // {cid, text, sent}: shown, not yet confirmed by a `user` event
  const mine = new Map(); // client_id -> user bubble drawn here

  const sendFrame = (obj) => ws.send(JSON.stringify(obj));
  const isUp = () => ws && ws.readyState === 1;

  const start = () => {
    if (!wanted) {
      wanted = true;
      connect();
    }
  };

  const connect = () => {
    clearTimeout(timer);
    timer = 0;
    if (ws || stopped) return;
    if (!navigator.onLine) return setConn('offline');
    setConn('connecting');
    const url =
      api.replace(/^http/, 'ws') + '/v1/chat?key=' + enc(key) + '&session=' + enc(sid) + '&after=' + last;
    let s;
    try {
      s = new WebSocket(url);
    } catch (e) {
      return refuse('The assistant is misconfigured (bad service URL).');
    }
    ws = s;
    s.onopen = () => {
      quietPings = 0;
      pinger = setInterval(() => {
        // Two pings without any frame back: the socket is dead even if the browser hasn't noticed.
        if (quietPings++ >= 1) return drop();
        sendFrame({ type: 'ping' });
      }, 25000);
    };
    s.onmessage = (m) => {
      quietPings = 0;
      let ev;
      try {
        ev = JSON.parse(m.data);
      } catch (e) {
        return;
      }
      if (ev && typeof ev === 'object') handle(ev);
    };
    s.onclose = (e) => s === ws && lost(e.code);
  };

  const reset = () => {
    if (ws) ws.onopen = ws.onmessage = ws.onclose = null;
    ws = null;
    ready = false;
    clearInterval(pinger);
    busy(false);
    for (const p of pending) p.sent = false; // resent after the next `ready` (server dedupes)
  };

  const refuse = (msg) => {
    reset();
    stopped = true;
    setConn('error');
    status('error', 'alert', msg);
    for (const p of pending.splice(0)) fail(p);
  };

  const lost = (code) => {
    reset();
    if (code === 4403) return refuse('The shopping assistant is not available on this site.');
    if (code === 4400) return refuse('The shopping assistant could not start (bad request).');
    if (!navigator.onLine) return setConn('offline');
    const base = Math.min(1000 * 2 ** attempt, 10000);
    const delay = Math.min(10000, base * (0.8 + Math.random() * 0.4));
    attempt++;
    setConn('reconnecting', Math.max(1, Math.round(delay / 1000)));
    timer = setTimeout(connect, delay);
  };

  const drop = () => {
    const s = ws;
    if (!s) return;
    lost(1006);
    try {
      s.close();
    } catch (e) {
      /* already closing */
    }
  };

  addEventListener('offline', () => {
    if (!wanted || stopped) return;
    clearTimeout(timer);
    const s = ws;
    reset();
    if (s) s.close();
    setConn('offline');
  });
  addEventListener('online', () => {
    if (!wanted || stopped) return;
    attempt = 0;
    connect();
  });

  const flush = () => {
    if (!ready || !isUp()) return start();
    for (const p of pending) {
      if (!p.sent) {
        sendFrame({ type: 'message', text: p.text, client_id: p.cid });
        p.sent = true;
      }
    }
  };

  const fail = (p) => {
    const el = mine.get(p.cid);
    if (!el) return;
    el.classList.remove('pending');
    el.classList.add('failed');
    el.append(h('span', { class: 'note', text: 'Not sent' }));
  };

  const submit = () => {
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    const p = { cid: uuid(), text, sent: false };
    const el = userBubble(text);
    el.classList.add('pending');
    mine.set(p.cid, el);
    if (stopped) return fail(p);
    pending.push(p);
    flush();
  };

  const click = (sku) => {
    if (sku == null) return;
    sku = String(sku);
    if (isUp()) return sendFrame({ type: 'click', sku });
    try {
      fetch(api + '/v1/events/click?key=' + enc(key), {
        method: 'POST',
        mode: 'cors',
        credentials: 'omit',
        keepalive: true,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ sku, session: sid }),
      }).catch(() => {});
    } catch (e) {
      /* analytics only */
    }
  };

  // ---- server events -------------------------------------------------------------------------
  const handle = (ev) => {
    const type = ev.type;
    if (typeof ev.id === 'number') {
      if (ev.id <= last) return; // replayed and already rendered
      last = ev.id;
      save(lastKey(), last);
      if (!isOpen && type !== 'user' && ev.id > prevSeen) unread(true);
    }
    switch (type) {
      case 'ready': {
        ready = true;
        attempt = 0;
        if (typeof ev.session === 'string' && ev.session && ev.session !== sid) {
          save(PFX + 'session', (sid = ev.session));
        }
        // The server's history is shorter than ours (reset store): accept its new ids.
        if (typeof ev.last_event_id === 'number' && ev.last_event_id < last) {
          save(lastKey(), (last = ev.last_event_id));
        }
        setConn('online');
        flush();
        break;
      }
      case 'user': {
        const cid = ev.client_id;
        const i = pending.findIndex((p) => p.cid === cid);
        if (i >= 0) pending.splice(i, 1);
        const el = cid && mine.get(cid);
        if (el) el.classList.remove('pending');
        else {
          const b = userBubble(str(ev.text));
          if (cid) mine.set(cid, b);
        }
        break;
      }
      case 'delta': {
        botFor(ev.turn).firstChild.append(str(ev.text));
        busy(true);
        break;
      }
      case 'done': {
        const b = botFor(ev.turn);
        b.classList.remove('streaming');
        b.firstChild.textContent = str(ev.text);
        for (const old of b.querySelectorAll('.corr')) old.remove();
        const c = Array.isArray(ev.corrections) ? ev.corrections.filter((x) => typeof x === 'string' && x) : [];
        if (c.length) {
          b.append(
            h(
              'details',
              { class: 'corr' },
              h('summary', { text: c.length === 1 ? '1 correction' : c.length + ' corrections' }),
              h('ul', null, ...c.map((x) => h('li', { text: x }))),
            ),
          );
        }
        busy(false);
        break;
      }
      case 'products': {
        const list = Array.isArray(ev.products) ? ev.products.filter((p) => p && typeof p === 'object') : [];
        if (list.length) add(h('ul', { class: 'cards', 'aria-label': 'Products' }, ...list.map(card)));
        break;
      }
      case 'notice': {
        // The server restarted an interrupted answer: drop the half-streamed text of that turn.
        const b = ev.restart ? turns.get(ev.turn) : null;
        if (b) b.firstChild.textContent = '';
        status('notice', 'status', str(ev.message));
        break;
      }
      case 'error': {
        let msg = str(ev.message) || ERRORS[ev.code] || ERRORS.internal;
        if (ev.retry_after > 0) msg += ' Try again in ' + Math.ceil(ev.retry_after) + ' s.';
        status('error', 'alert', msg);
        // The server answers each message in order with `user` or `error`: the oldest sent,
        // unconfirmed message is the one refused.
        const i = pending.findIndex((p) => p.sent);
        if (i >= 0) fail(pending.splice(i, 1)[0]);
        busy(false);
        break;
      }
      default:
        break; // pong and unknown types
    }
  };

  // ---- mount ---------------------------------------------------------------------------------
  const mount = () => {
    doc.body.append(host);
    // A returning shopper's conversation is restored (and the badge lit) at once; otherwise
    // the socket opens when the panel is first opened.
    if (startOpen) setOpen(true, false);
    else if (prevSeen > 0) start();
  };
  if (doc.body) mount();
  else doc.addEventListener('DOMContentLoaded', mount);
})();
