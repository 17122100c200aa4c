// Results of a finished job: clips, chapters, the written assets and the exports.

import {
  getAsset,
  getResults,
  regenerateAsset,
  saveAsset,
  TimeoutError,
  waitForNewVersion,
} from '../api.js';
import {
  announce,
  copyText,
  formatCount,
  formatDuration,
  formatTimestamp,
  h,
  icon,
  mount,
} from '../dom.js';
import { renderMarkdown } from '../markdown.js';

export const ASSET_KINDS = [
  { kind: 'blog', label: 'Blog post' },
  { kind: 'thread', label: 'Thread' },
  { kind: 'linkedin', label: 'LinkedIn post', limit: 3000 },
  { kind: 'instagram', label: 'Instagram caption', limit: 2200 },
  { kind: 'newsletter', label: 'Newsletter' },
  { kind: 'show_notes', label: 'Show notes' },
];
const EXPORTS = [
  { key: 'srt', label: 'Subtitles (SRT)' },
  { key: 'vtt', label: 'Subtitles (VTT)' },
  { key: 'txt', label: 'Transcript (TXT)' },
  { key: 'docx', label: 'Everything (DOCX)' },
  { key: 'md', label: 'Everything (Markdown)' },
];
const aspectId = (aspect) => String(aspect).replace(':', 'x');
const REGENERATE_TIMEOUT = 180000;
const POLL_INTERVAL = 2000;

/** A "Copy" button that shows "Copied" for a moment. */
function copyButton(getText, { testid, label = 'Copy', what = 'Text' }) {
  const text = h('span', {}, label);
  const button = h(
    'button',
    { class: 'btn btn--small', type: 'button', testid },
    icon('copy'),
    text,
  );
  let timer = 0;
  button.addEventListener('click', async () => {
    const ok = await copyText(getText());
    text.textContent = ok ? 'Copied' : 'Copy failed';
    button.classList.toggle('btn--success', ok);
    announce(
      ok ? `${what} copied to the clipboard` : 'Copying failed: select the text and copy it',
    );
    clearTimeout(timer);
    timer = setTimeout(() => {
      text.textContent = label;
      button.classList.remove('btn--success');
    }, 2000);
  });
  return button;
}

function scoreClass(score) {
  if (score >= 80) return 'score score--high';
  if (score >= 60) return 'score score--mid';
  return 'score score--low';
}

// ---- clips --------------------------------------------------------------------------------

function clipCard(highlight, clips, onMediaError) {
  const aspects = clips.map((clip) => clip.aspect);
  let current = clips[0];
  const video = h('video', {
    controls: true,
    playsinline: true,
    preload: 'metadata',
    testid: 'clip-video',
  });
  video.setAttribute('playsinline', '');
  const frame = h('div', { class: 'clip__frame' }, video);
  const download = h(
    'a',
    { class: 'btn btn--small', testid: 'clip-download', download: '' },
    icon('download'),
    'Download clip',
  );
  const show = (clip) => {
    current = clip;
    frame.dataset.aspect = aspectId(clip.aspect);
    video.poster = clip.thumbnail_url || '';
    video.src = clip.url;
    if (clip.width && clip.height) {
      video.width = clip.width;
      video.height = clip.height;
    }
    video.dataset.aspect = clip.aspect;
    download.href = clip.url;
    for (const button of switcher.querySelectorAll('button')) {
      button.setAttribute('aria-pressed', String(button.dataset.aspect === clip.aspect));
    }
  };
  const switcher = h('div', {
    class: 'segmented',
    role: 'group',
    'aria-label': 'Clip format',
    testid: 'aspect-switch',
  });
  for (const clip of clips) {
    switcher.append(
      h(
        'button',
        {
          type: 'button',
          class: 'segmented__item',
          testid: `aspect-${aspectId(clip.aspect)}`,
          dataset: { aspect: clip.aspect },
          'aria-pressed': 'false',
          onclick: () => {
            if (current !== clip) {
              video.pause();
              show(clip);
            }
          },
        },
        clip.aspect === '9:16'
          ? 'Vertical 9:16'
          : clip.aspect === '16:9'
            ? 'Landscape 16:9'
            : clip.aspect,
      ),
    );
  }
  switcher.hidden = aspects.length < 2;
  video.addEventListener('error', () => onMediaError());

  const score = Number(highlight?.score ?? 0);
  const duration = highlight ? highlight.end - highlight.start : clips[0].duration;
  const card = h(
    'article',
    { class: 'card clip', testid: 'clip', dataset: { highlight: String(clips[0].highlight) } },
    frame,
    h(
      'div',
      { class: 'clip__body' },
      h(
        'div',
        { class: 'clip__top' },
        h(
          'h3',
          { class: 'clip__title', testid: 'clip-title' },
          highlight?.title || `Clip ${clips[0].highlight + 1}`,
        ),
        h(
          'span',
          {
            class: scoreClass(score),
            testid: 'clip-score',
            title: 'How likely this moment is to work as a clip (0-100)',
            'aria-label': `Score ${score} out of 100`,
          },
          String(score),
        ),
      ),
      h(
        'p',
        { class: 'clip__range', testid: 'clip-range' },
        icon('clock'),
        highlight ? `${formatTimestamp(highlight.start)} – ${formatTimestamp(highlight.end)}` : '',
        ` · ${formatDuration(duration)}`,
      ),
      switcher,
      highlight?.reasons?.length
        ? h(
            'ul',
            { class: 'reasons', testid: 'clip-reasons', 'aria-label': 'Why this moment' },
            highlight.reasons.map((reason) => h('li', {}, reason)),
          )
        : null,
      highlight?.text
        ? h(
            'details',
            { class: 'clip__text' },
            h('summary', {}, 'What is said'),
            h('p', {}, highlight.text),
          )
        : null,
      h('div', { class: 'actions' }, download),
    ),
  );
  show(current);
  return {
    card,
    refresh(newClips) {
      for (const clip of newClips) {
        const old = clips.find((c) => c.aspect === clip.aspect);
        if (old) Object.assign(old, clip);
      }
      const time = video.currentTime;
      show(current);
      if (time) video.currentTime = time;
    },
  };
}

// ---- written assets -----------------------------------------------------------------------

function assetCard(jobId, initial, { label, limit }, { events, signal }) {
  let asset = { ...initial };
  let busy = false;
  const kind = asset.kind;

  const version = h('span', { class: 'badge', testid: 'asset-version' });
  const titleEl = h('p', { class: 'asset__title', testid: 'asset-title' });
  const body = h('div', { class: 'asset__body prose', testid: 'asset-body' });
  const count = h('span', { class: 'asset__count hint', testid: 'asset-count' });
  const status = h('p', { class: 'asset__status', testid: 'asset-status', 'aria-live': 'polite' });
  const spinner = h(
    'div',
    { class: 'asset__busy', testid: 'asset-spinner', hidden: true },
    h('span', { class: 'spinner' }),
    h('span', {}, 'Regenerating…'),
  );
  const quotes = h('div', { class: 'asset__quotes' });

  // Editor
  const titleInput = h('input', {
    type: 'text',
    id: `edit-title-${kind}`,
    testid: 'asset-edit-title',
  });
  const bodyInput = h('textarea', {
    id: `edit-body-${kind}`,
    rows: 12,
    testid: 'asset-edit-body',
    spellcheck: 'true',
  });
  const save = h(
    'button',
    { class: 'btn btn--primary btn--small', type: 'submit', testid: 'asset-save' },
    'Save',
  );
  const cancel = h(
    'button',
    { class: 'btn btn--ghost btn--small', type: 'button', testid: 'asset-cancel' },
    'Cancel',
  );
  const editor = h(
    'form',
    { class: 'asset__editor', hidden: true, testid: 'asset-editor' },
    h('label', { class: 'field__label', for: `edit-title-${kind}` }, 'Title'),
    titleInput,
    h('label', { class: 'field__label', for: `edit-body-${kind}` }, 'Text (Markdown)'),
    bodyInput,
    h(
      'div',
      { class: 'actions' },
      save,
      cancel,
      h('span', { class: 'hint' }, 'Ctrl+Enter saves, Esc cancels'),
    ),
  );

  // Actions
  const copy = copyButton(() => asset.body, { testid: 'asset-copy', what: label });
  const edit = h(
    'button',
    { class: 'btn btn--small', type: 'button', testid: 'asset-edit' },
    icon('edit'),
    'Edit',
  );
  const instruction = h('input', {
    type: 'text',
    id: `regen-${kind}`,
    placeholder: 'Optional: e.g. more casual',
    maxlength: '500',
    testid: 'asset-instruction',
  });
  const regenerate = h(
    'button',
    { class: 'btn btn--small', type: 'submit', testid: 'asset-regenerate' },
    icon('refresh'),
    'Regenerate',
  );
  const regenForm = h(
    'form',
    { class: 'asset__regen' },
    h(
      'label',
      { class: 'visually-hidden', for: `regen-${kind}` },
      `Instruction for a new ${label}`,
    ),
    instruction,
    regenerate,
  );
  const actions = h('div', { class: 'asset__actions' }, copy, edit);

  const card = h(
    'article',
    {
      class: 'card asset',
      testid: `asset-${kind}`,
      dataset: { kind },
      'aria-labelledby': `asset-h-${kind}`,
    },
    h('header', { class: 'asset__head' }, h('h3', { id: `asset-h-${kind}` }, label), version),
    titleEl,
    body,
    editor,
    h('div', { class: 'asset__foot' }, count, actions),
    regenForm,
    status,
    quotes,
    spinner,
  );

  // The title is shown above the body unless the body already opens with it as a heading.
  const titleHidden = () => {
    if (!asset.title) return true;
    const first = (asset.body || '').trimStart().split('\n')[0];
    return /^#{1,6}\s/.test(first) && first.replace(/^#+\s*/, '').trim() === asset.title.trim();
  };

  const paint = () => {
    card.dataset.version = String(asset.version ?? 1);
    version.textContent = `v${asset.version ?? 1}${asset.edited ? ' · edited' : ''}`;
    titleEl.textContent = asset.title || '';
    titleEl.hidden = titleHidden();
    body.innerHTML = renderMarkdown(asset.body || '', { headingOffset: 3 }); // safe: escapes first
    const chars = [...(asset.body || '')].length;
    count.textContent = limit
      ? `${formatCount(chars)} / ${formatCount(limit)} characters`
      : `${formatCount(chars)} characters`;
    count.classList.toggle('asset__count--over', Boolean(limit && chars > limit));
    if (asset.quotes?.length) {
      mount(
        quotes,
        h(
          'details',
          {},
          h('summary', {}, `Quotes (${asset.quotes.length})`),
          h(
            'ul',
            { class: 'quotes' },
            asset.quotes.map((quote) =>
              h(
                'li',
                {},
                h('span', { class: 'quotes__time' }, formatTimestamp(quote.start)),
                ` “${quote.text}”`,
              ),
            ),
          ),
        ),
      );
    } else {
      quotes.replaceChildren();
    }
  };

  const setBusy = (value) => {
    busy = value;
    spinner.hidden = !value;
    card.setAttribute('aria-busy', String(value));
    card.classList.toggle('asset--busy', value);
    edit.disabled = value;
    regenerate.disabled = value;
    instruction.disabled = value;
  };
  const setStatus = (text, kindOfMessage = '') => {
    status.textContent = text;
    status.className = `asset__status ${kindOfMessage ? `asset__status--${kindOfMessage}` : ''}`;
    status.setAttribute('role', kindOfMessage === 'error' ? 'alert' : 'status');
  };

  const openEditor = () => {
    titleInput.value = asset.title || '';
    bodyInput.value = asset.body || '';
    editor.hidden = false;
    body.hidden = true;
    titleEl.hidden = true;
    actions.hidden = true;
    regenForm.hidden = true;
    setStatus('');
    bodyInput.focus();
  };
  const closeEditor = () => {
    editor.hidden = true;
    body.hidden = false;
    actions.hidden = false;
    regenForm.hidden = false;
    titleEl.hidden = titleHidden();
    edit.focus();
  };

  edit.addEventListener('click', openEditor);
  cancel.addEventListener('click', closeEditor);
  editor.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      closeEditor();
    } else if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      editor.requestSubmit();
    }
  });
  editor.addEventListener('submit', async (event) => {
    event.preventDefault();
    save.disabled = true;
    save.textContent = 'Saving…';
    try {
      const saved = await saveAsset(jobId, kind, {
        title: titleInput.value,
        body: bodyInput.value,
      });
      asset = { ...asset, ...saved };
      paint();
      closeEditor();
      setStatus(`Saved (version ${asset.version}).`, 'ok');
    } catch (error) {
      if (error?.status !== 401) setStatus(`Not saved: ${error.message}`, 'error');
    } finally {
      save.disabled = false;
      save.textContent = 'Save';
    }
  });

  // A newer version arrives: from an `asset` event (live stream) or from polling.
  let waiter = null;
  const receive = (fresh) => {
    if (Number(fresh.version) <= Number(asset.version)) return false;
    asset = { ...asset, ...fresh };
    paint();
    return true;
  };
  events?.addEventListener('asset', async (event) => {
    if (event.detail?.kind !== kind || Number(event.detail.version) <= Number(asset.version))
      return;
    try {
      const fresh = await getAsset(jobId, kind, signal);
      if (receive(fresh) && waiter) waiter.abort();
    } catch {
      /* the poll will catch up */
    }
  });

  regenForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (busy) return;
    const before = Number(asset.version ?? 1);
    const wish = instruction.value.trim();
    setBusy(true);
    setStatus(wish ? `Regenerating (“${wish}”)…` : 'Regenerating…');
    try {
      await regenerateAsset(jobId, kind, wish);
      waiter = new AbortController();
      const stop = () => waiter?.abort();
      signal?.addEventListener('abort', stop, { once: true });
      try {
        const fresh = await waitForNewVersion({
          fetchAsset: (sig) => getAsset(jobId, kind, sig),
          afterVersion: before,
          interval: POLL_INTERVAL,
          timeout: REGENERATE_TIMEOUT,
          signal: waiter.signal,
        });
        receive(fresh);
      } catch (error) {
        // Aborted because an `asset` event delivered it first: fine.
        if (!(error?.name === 'AbortError' && Number(asset.version) > before)) throw error;
      } finally {
        signal?.removeEventListener('abort', stop);
        waiter = null;
      }
      instruction.value = '';
      setStatus(`New version ready (version ${asset.version}).`, 'ok');
      announce(`A new ${label} is ready`);
    } catch (error) {
      if (signal?.aborted || error?.status === 401) return;
      if (error instanceof TimeoutError) {
        setStatus(
          'Still no new version after 3 minutes. Reload the page later to see it.',
          'error',
        );
      } else {
        setStatus(`Could not regenerate: ${error.message}`, 'error');
      }
    } finally {
      if (!signal?.aborted) setBusy(false);
    }
  });

  paint();
  return card;
}

// ---- the page -----------------------------------------------------------------------------

export function renderResults(container, { jobId, job, results, events, signal }) {
  const highlights = new Map((results.highlights || []).map((hl) => [hl.index, hl]));
  const byHighlight = new Map();
  for (const clip of results.clips || []) {
    if (!byHighlight.has(clip.highlight)) byHighlight.set(clip.highlight, []);
    byHighlight.get(clip.highlight).push(clip);
  }

  // Signed URLs expire (an hour by default): when media fails to load, fetch fresh ones once.
  let refreshedAt = performance.now();
  const cards = [];
  const exportLinks = new Map();
  const refreshLinks = async () => {
    if (performance.now() - refreshedAt < 60000) return;
    refreshedAt = performance.now();
    try {
      const fresh = await getResults(jobId, signal);
      const grouped = new Map();
      for (const clip of fresh.clips || []) {
        if (!grouped.has(clip.highlight)) grouped.set(clip.highlight, []);
        grouped.get(clip.highlight).push(clip);
      }
      for (const { highlight, card } of cards) card.refresh(grouped.get(highlight) || []);
      for (const [key, link] of exportLinks)
        if (fresh.exports?.[key]) link.href = fresh.exports[key];
    } catch {
      /* keep the old links */
    }
  };

  // Downloads
  const exportsData = results.exports || {};
  const zip = exportsData.zip
    ? h(
        'a',
        { class: 'btn btn--primary', href: exportsData.zip, download: '', testid: 'download-zip' },
        icon('download'),
        'Download all (.zip)',
      )
    : null;
  if (zip) exportLinks.set('zip', zip);
  const exportList = h('ul', { class: 'exports', testid: 'exports' });
  for (const { key, label } of EXPORTS) {
    if (!exportsData[key]) continue;
    const link = h('a', { href: exportsData[key], download: '', testid: `export-${key}` }, label);
    exportLinks.set(key, link);
    exportList.append(h('li', {}, link));
  }

  const summary = [
    `${byHighlight.size} ${byHighlight.size === 1 ? 'clip' : 'clips'}`,
    `${(results.chapters || []).length} chapters`,
    `${Object.keys(results.assets || {}).length} written pieces`,
  ].join(' · ');
  const downloads = h(
    'section',
    { class: 'panel downloads', 'aria-labelledby': 'downloads-title' },
    h(
      'div',
      {},
      h('h2', { id: 'downloads-title' }, 'Your results'),
      h('p', { class: 'hint' }, summary),
    ),
    h('div', { class: 'downloads__links' }, zip, exportList),
  );

  // Clips
  const clipGrid = h('div', { class: 'grid grid--clips' });
  for (const [index, clips] of byHighlight) {
    const { card, refresh } = clipCard(highlights.get(index), clips, refreshLinks);
    cards.push({ highlight: index, card: { refresh } });
    clipGrid.append(card);
  }
  const clipsSection = h(
    'section',
    { class: 'section', 'aria-labelledby': 'clips-title', testid: 'clips' },
    h('h2', { id: 'clips-title' }, 'Clips'),
    byHighlight.size
      ? clipGrid
      : h('p', { class: 'empty' }, 'No clips were made from this recording.'),
  );

  // Chapters
  const chapters = results.chapters || [];
  const chapterText = () =>
    chapters.map((ch) => `${formatTimestamp(ch.start)} ${ch.title}`).join('\n');
  const chaptersSection = h(
    'section',
    { class: 'section', 'aria-labelledby': 'chapters-title', testid: 'chapters' },
    h(
      'div',
      { class: 'section__head' },
      h('h2', { id: 'chapters-title' }, 'Chapters'),
      chapters.length
        ? copyButton(chapterText, {
            testid: 'copy-chapters',
            label: 'Copy as YouTube chapters',
            what: 'Chapters',
          })
        : null,
    ),
    chapters.length
      ? h(
          'ol',
          { class: 'card chapters' },
          chapters.map((chapter) =>
            h(
              'li',
              { class: 'chapter', testid: 'chapter' },
              h(
                'span',
                { class: 'chapter__time', testid: 'chapter-time' },
                formatTimestamp(chapter.start),
              ),
              h(
                'div',
                {},
                h('strong', { class: 'chapter__title' }, chapter.title),
                chapter.summary ? h('p', { class: 'chapter__summary' }, chapter.summary) : null,
              ),
            ),
          ),
        )
      : h('p', { class: 'empty' }, 'No chapters.'),
  );

  // Written assets
  const assets = results.assets || {};
  const known = new Set(ASSET_KINDS.map((a) => a.kind));
  const kinds = [
    ...ASSET_KINDS.filter((a) => assets[a.kind]),
    ...Object.keys(assets)
      .filter((kind) => !known.has(kind))
      .map((kind) => ({ kind, label: kind.replace(/_/g, ' ') })),
  ];
  const assetGrid = h('div', { class: 'grid grid--assets' });
  for (const meta of kinds) {
    assetGrid.append(
      assetCard(jobId, { kind: meta.kind, ...assets[meta.kind] }, meta, { events, signal }),
    );
  }
  const assetsSection = h(
    'section',
    { class: 'section', 'aria-labelledby': 'assets-title', testid: 'assets' },
    h('h2', { id: 'assets-title' }, 'Posts and articles'),
    kinds.length
      ? assetGrid
      : h('p', { class: 'empty' }, 'Nothing was written for this recording.'),
  );

  // Transcript
  const transcript = results.transcript;
  const transcriptSection = transcript?.text
    ? h(
        'section',
        { class: 'section', testid: 'transcript' },
        h(
          'details',
          { class: 'card transcript' },
          h(
            'summary',
            {},
            h('strong', {}, 'Transcript'),
            ` · ${transcript.language || ''} · ${formatDuration(transcript.duration || 0)}`,
          ),
          h(
            'div',
            { class: 'actions' },
            copyButton(() => transcript.text, { testid: 'copy-transcript', what: 'Transcript' }),
          ),
          h('p', { class: 'transcript__text' }, transcript.text),
        ),
      )
    : null;

  mount(
    container,
    h(
      'div',
      { class: 'results', testid: 'results' },
      downloads,
      clipsSection,
      chaptersSection,
      assetsSection,
      transcriptSection,
    ),
  );
}
