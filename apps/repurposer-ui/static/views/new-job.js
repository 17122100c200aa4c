// Upload page: drop zone + file picker, a resumable tus upload with real byte progress, the job
// options, then POST /v1/jobs and on to #/jobs/<id>.
//
// The upload lives in this module (not in the view), so leaving the page and coming back while
// it runs shows it again instead of losing it.

import {
  authHeaders,
  authRequired,
  createJob,
  getUpload,
  storage,
  UNAUTHORIZED_MESSAGE,
} from '../api.js';
import { announce, formatBytes, formatDuration, h, icon, mount, progressBar } from '../dom.js';
import { DEFAULT_CHUNK_SIZE, NetworkError, TusUpload } from '../upload.js';

const OPTIONS_ITEM = 'ascent.repurposer.options';
const CHUNK_ITEM = 'ascent.repurposer.chunkBytes'; // optional override (testing, slow links)
const DEFAULT_OPTIONS = {
  clips: 5,
  aspects: ['16:9', '9:16'],
  highlight_colour: '#FFD400',
  text_colour: '#FFFFFF',
};
const ASPECTS = [
  { value: '16:9', id: '16x9', label: 'Landscape 16:9', hint: 'YouTube, LinkedIn, websites' },
  { value: '9:16', id: '9x16', label: 'Vertical 9:16', hint: 'Shorts, Reels, TikTok' },
];

// ---- the upload session (module state) ----------------------------------------------------

let session = null;
const listeners = new Set();
let maxSize = null; // from OPTIONS /v1/uploads (Tus-Max-Size), when the server says

function emit() {
  for (const listener of listeners) listener(session);
}

function chunkSize() {
  const override = Number.parseInt(storage.getItem(CHUNK_ITEM) || '', 10);
  return Number.isFinite(override) && override >= 64 * 1024 ? override : DEFAULT_CHUNK_SIZE;
}

function loadOptions() {
  try {
    return { ...DEFAULT_OPTIONS, ...JSON.parse(storage.getItem(OPTIONS_ITEM) || '{}') };
  } catch {
    return { ...DEFAULT_OPTIONS };
  }
}

function describeUploadError(error) {
  if (error instanceof NetworkError) {
    return (
      'The connection to the server was lost and retrying did not help. The part already sent ' +
      'is kept: choose the same file again to resume.'
    );
  }
  const detail = error?.problem?.detail || error?.message || 'The upload failed.';
  if (error?.status === 413 || error?.code === 'upload_too_large') {
    return `This file is too large: ${detail}`;
  }
  if (error?.status === 422) return `This file cannot be used: ${detail}`;
  return detail;
}

function startUpload(file) {
  if (session?.upload && (session.state === 'uploading' || session.state === 'processing')) {
    session.upload.abort({ terminate: true });
  }
  session = {
    file,
    state: 'uploading',
    sent: 0,
    total: file.size,
    samples: [],
    message: '',
    error: null,
    uploadId: null,
    media: null,
    resumedFrom: null,
    pendingOptions: null,
    jobError: null,
  };
  if (file.size === 0) {
    session.state = 'error';
    session.error = 'This file is empty.';
    emit();
    return;
  }
  if (maxSize && file.size > maxSize) {
    session.state = 'error';
    session.error = `This file is ${formatBytes(file.size)}; the largest upload accepted is ${formatBytes(maxSize)}.`;
    emit();
    return;
  }
  const current = session;
  const upload = new TusUpload(file, {
    chunkSize: chunkSize(),
    headers: authHeaders,
    storage,
    onProgress(sent, total) {
      if (current !== session) return;
      current.sent = sent;
      current.total = total;
      const now = performance.now();
      current.samples.push([now, sent]);
      while (current.samples.length > 2 && now - current.samples[0][0] > 5000)
        current.samples.shift();
      emit();
    },
    onRetry({ attempt, of, delay }) {
      if (current !== session) return;
      current.message = `Connection problem. Retrying in ${Math.ceil(delay / 1000)} s (attempt ${attempt} of ${of})…`;
      announce(current.message);
      emit();
    },
    onState(state) {
      if (current !== session) return;
      if (state === 'resuming') current.message = 'Looking for a previous upload of this file…';
      else if (state === 'uploading') current.message = '';
      else if (state === 'processing') current.message = 'Checking the file…';
      if (state === 'processing' || state === 'uploading') current.state = state;
      emit();
    },
  });
  current.upload = upload;
  announce(`Uploading ${file.name}`);
  emit();
  upload.start().then(
    async ({ id, resumed }) => {
      if (current !== session) return;
      current.uploadId = id;
      current.sent = current.total;
      // Every byte is in. If that was learnt from HEAD (a resumed or retried upload) the
      // server may still be probing the file: wait for `ready` (or `failed`).
      const info = await settledUpload(id, () => current !== session);
      if (current !== session) return;
      if (info?.status === 'failed' || info?.missing) {
        upload.forget();
        current.state = 'error';
        current.error = info.missing
          ? 'The server no longer has this upload. Choose the file again to upload it anew.'
          : `This file cannot be used: ${info.error || 'it could not be read as audio or video.'}`;
        current.pendingOptions = null;
        announce(current.error);
        emit();
        return;
      }
      current.media = info?.media || null;
      current.state = 'ready';
      current.message = resumed ? 'Upload complete (resumed).' : 'Upload complete.';
      announce(`Upload complete: ${file.name}`);
      emit();
      if (current.pendingOptions) submitJob(current.pendingOptions);
    },
    (error) => {
      if (current !== session) return;
      if (error?.name === 'AbortError') return;
      if (error?.status === 401) {
        current.state = 'error';
        current.error = 'You were signed out. Sign in and choose the same file to resume.';
        current.pendingOptions = null;
        emit();
        authRequired(UNAUTHORIZED_MESSAGE);
        return;
      }
      current.state = 'error';
      current.error = describeUploadError(error);
      current.pendingOptions = null;
      announce(current.error);
      emit();
    },
  );
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** GET /v1/uploads/{id} until it is no longer `receiving` (about 2 minutes at most). */
async function settledUpload(id, gone) {
  let info = null;
  for (let attempt = 0; attempt < 120 && !gone(); attempt += 1) {
    try {
      info = await getUpload(id);
    } catch (error) {
      if (error?.status === 404) return { missing: true };
      return info; // the details are optional: the upload itself succeeded
    }
    if (info?.status !== 'receiving') return info;
    await pause(1000);
  }
  return info;
}

function cancelUpload() {
  if (!session) return;
  session.upload?.abort({ terminate: true });
  session = null;
  announce('Upload cancelled');
  emit();
}

async function submitJob(options) {
  const current = session;
  if (!current) return;
  if (current.state !== 'ready') {
    current.pendingOptions = options;
    emit();
    return;
  }
  current.pendingOptions = null;
  current.creating = true;
  current.jobError = null;
  emit();
  try {
    const job = await createJob({
      upload_id: current.uploadId,
      clips: options.clips,
      aspects: options.aspects,
      style: { highlight_colour: options.highlight_colour, text_colour: options.text_colour },
    });
    current.upload?.forget();
    if (session === current) session = null;
    location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
  } catch (error) {
    if (error?.status === 401) return;
    current.creating = false;
    current.jobError = error?.message || 'The job could not be created.';
    announce(current.jobError);
    emit();
  }
}

async function loadMaxSize() {
  if (maxSize !== null) return maxSize;
  try {
    const response = await fetch('/v1/uploads', {
      method: 'OPTIONS',
      headers: { ...authHeaders(), 'Tus-Resumable': '1.0.0' },
    });
    const value = Number.parseInt(response.headers.get('Tus-Max-Size') || '', 10);
    maxSize = Number.isFinite(value) && value > 0 ? value : 0;
  } catch {
    maxSize = 0;
  }
  return maxSize;
}

// ---- the view -----------------------------------------------------------------------------

export function renderNewJob(main) {
  const options = loadOptions();

  // Drop zone
  const fileInput = h('input', {
    type: 'file',
    id: 'file-input',
    class: 'visually-hidden',
    accept: 'video/*,audio/*',
    tabindex: '-1',
    'aria-hidden': 'true',
    testid: 'file-input',
  });
  const pick = h(
    'button',
    { class: 'btn', type: 'button', testid: 'pick-file', 'aria-describedby': 'drop-hint' },
    'Choose a file',
  );
  const limit = h('span', { testid: 'upload-limit' });
  const zone = h(
    'div',
    { class: 'dropzone', testid: 'dropzone', role: 'group', 'aria-labelledby': 'drop-title' },
    icon('upload', 'icon dropzone__icon'),
    h('p', { id: 'drop-title', class: 'dropzone__title' }, 'Drag and drop a video or audio file'),
    h('p', { class: 'dropzone__or' }, 'or'),
    pick,
    h('p', { id: 'drop-hint', class: 'hint' }, 'MP4, MOV, MKV, WebM, MP3, WAV, M4A… ', limit),
    fileInput,
  );

  // Upload card
  const bar = progressBar({ label: 'Upload progress', testid: 'upload-progress' });
  const fileName = h('strong', { class: 'upload__name', testid: 'upload-filename' });
  const fileMeta = h('span', { class: 'upload__meta' });
  const percent = h('span', { class: 'upload__percent', testid: 'upload-percent' }, '0%');
  const status = h('p', { class: 'upload__status', testid: 'upload-status' });
  const cancel = h(
    'button',
    { class: 'btn btn--ghost btn--small', type: 'button', testid: 'upload-cancel' },
    'Cancel',
  );
  const card = h(
    'div',
    { class: 'upload', testid: 'upload-card', hidden: true },
    h(
      'div',
      { class: 'upload__head' },
      icon('film'),
      h('div', { class: 'upload__file' }, fileName, fileMeta),
      cancel,
    ),
    h('div', { class: 'upload__bar' }, bar.el, percent),
    status,
  );
  const errorBox = h('div', {
    class: 'alert alert--error',
    role: 'alert',
    testid: 'upload-error',
    hidden: true,
  });

  // Options
  const clips = h('input', {
    id: 'opt-clips',
    type: 'number',
    min: '1',
    max: '10',
    step: '1',
    required: true,
    inputmode: 'numeric',
    value: String(options.clips),
    testid: 'opt-clips',
  });
  const aspectBoxes = ASPECTS.map((aspect) =>
    h('input', {
      type: 'checkbox',
      id: `opt-aspect-${aspect.id}`,
      name: 'aspects',
      value: aspect.value,
      checked: options.aspects.includes(aspect.value),
      testid: `opt-aspect-${aspect.id}`,
    }),
  );
  const highlight = h('input', {
    id: 'opt-highlight',
    type: 'color',
    value: options.highlight_colour.toLowerCase(),
    testid: 'opt-highlight-colour',
  });
  const textColour = h('input', {
    id: 'opt-text',
    type: 'color',
    value: options.text_colour.toLowerCase(),
    testid: 'opt-text-colour',
  });
  const previewWord = h('span', { class: 'caption-preview__word' }, 'how');
  const preview = h(
    'p',
    { class: 'caption-preview', 'aria-hidden': 'true', testid: 'caption-preview' },
    'This is ',
    previewWord,
    ' captions look',
  );
  const paintPreview = () => {
    preview.style.color = textColour.value;
    previewWord.style.color = highlight.value;
  };
  paintPreview();
  highlight.addEventListener('input', paintPreview);
  textColour.addEventListener('input', paintPreview);

  const start = h(
    'button',
    { class: 'btn btn--primary btn--large', type: 'submit', testid: 'start-job' },
    'Create clips and posts',
  );
  const startHint = h('p', { class: 'hint', testid: 'start-hint', 'aria-live': 'polite' });
  const startError = h('div', {
    class: 'alert alert--error',
    role: 'alert',
    testid: 'start-error',
    hidden: true,
  });

  const form = h(
    'form',
    { class: 'panel options', testid: 'job-options', 'aria-labelledby': 'options-title' },
    h('h2', { id: 'options-title' }, 'Options'),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'opt-clips', class: 'field__label' }, 'Number of clips'),
      clips,
      h('p', { class: 'hint' }, 'The best moments, 1 to 10.'),
    ),
    h(
      'fieldset',
      { class: 'field' },
      h('legend', { class: 'field__label' }, 'Clip formats'),
      ...ASPECTS.map((aspect, i) =>
        h(
          'label',
          { class: 'check check--card', for: `opt-aspect-${aspect.id}` },
          aspectBoxes[i],
          h('span', {}, h('strong', {}, aspect.label), h('span', { class: 'hint' }, aspect.hint)),
        ),
      ),
    ),
    h(
      'fieldset',
      { class: 'field' },
      h('legend', { class: 'field__label' }, 'Captions'),
      h(
        'div',
        { class: 'colours' },
        h('label', { class: 'colour', for: 'opt-highlight' }, highlight, 'Highlight colour'),
        h('label', { class: 'colour', for: 'opt-text' }, textColour, 'Text colour'),
      ),
      preview,
    ),
    startError,
    h('div', { class: 'actions' }, start),
    startHint,
  );

  const uploadPanel = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'upload-title' },
    h('h1', { id: 'upload-title' }, 'Turn a recording into clips and posts'),
    h(
      'p',
      { class: 'lead' },
      'Upload a talk, podcast or webinar. You get captioned clips of the best moments, chapters, ' +
        'a blog post, social posts, a newsletter and show notes.',
    ),
    zone,
    card,
    errorBox,
  );

  mount(main, h('div', { class: 'new-job' }, uploadPanel, form));

  // ---- behaviour ----
  const choose = (file) => {
    if (!file) return;
    errorBox.hidden = true;
    startUpload(file);
  };
  pick.addEventListener('click', () => fileInput.click());
  zone.addEventListener('click', (event) => {
    if (event.target === zone || event.target.closest('.dropzone__title, .dropzone__icon')) {
      fileInput.click();
    }
  });
  fileInput.addEventListener('change', () => {
    choose(fileInput.files?.[0]);
    fileInput.value = ''; // choosing the same file again (to resume) fires change again
  });
  let depth = 0;
  zone.addEventListener('dragenter', (event) => {
    event.preventDefault();
    depth += 1;
    zone.classList.add('dropzone--over');
  });
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
  });
  zone.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) zone.classList.remove('dropzone--over');
  });
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    depth = 0;
    zone.classList.remove('dropzone--over');
    const files = event.dataTransfer?.files;
    if (files?.length > 1) announce('Only the first file is uploaded.');
    choose(files?.[0]);
  });
  // A file dropped next to the zone must not navigate away from the page.
  const swallow = (event) => {
    if (event.dataTransfer?.types?.includes('Files')) event.preventDefault();
  };
  window.addEventListener('dragover', swallow);
  window.addEventListener('drop', swallow);

  cancel.addEventListener('click', cancelUpload);

  const readOptions = () => ({
    clips: Number(clips.value),
    aspects: aspectBoxes.filter((box) => box.checked).map((box) => box.value),
    highlight_colour: highlight.value.toUpperCase(),
    text_colour: textColour.value.toUpperCase(),
  });
  const saveOptions = () => storage.setItem(OPTIONS_ITEM, JSON.stringify(readOptions()));
  form.addEventListener('change', saveOptions);
  for (const box of aspectBoxes)
    box.addEventListener('change', () => aspectBoxes[0].setCustomValidity(''));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = readOptions();
    aspectBoxes[0].setCustomValidity(chosen.aspects.length ? '' : 'Choose at least one format.');
    if (!form.reportValidity()) return;
    if (!session || session.state === 'error') {
      startHint.textContent = 'Choose a recording to upload first.';
      pick.focus();
      return;
    }
    saveOptions();
    submitJob(chosen);
  });

  // ---- rendering from the session ----
  let frame = 0;
  let lastAnnounced = -1;
  const render = () => {
    frame = 0;
    const s = session;
    card.hidden = !s || s.state === 'error';
    errorBox.hidden = !(s && s.state === 'error');
    if (s?.state === 'error') errorBox.textContent = s.error;
    startError.hidden = !s?.jobError;
    startError.textContent = s?.jobError || '';
    start.disabled = Boolean(s?.creating || s?.pendingOptions);
    if (!s) {
      startHint.textContent = 'Choose a recording to start.';
      start.textContent = 'Create clips and posts';
      zone.classList.remove('dropzone--compact');
      pick.textContent = 'Choose a file';
      return;
    }
    zone.classList.toggle('dropzone--compact', s.state !== 'error');
    pick.textContent = s.state === 'error' ? 'Choose a file' : 'Choose another file';
    if (s.state === 'error') {
      startHint.textContent = 'Choose a recording to start.';
      return;
    }
    fileName.textContent = s.file.name;
    const fraction = s.total ? s.sent / s.total : 0;
    bar.set(s.state === 'ready' ? 1 : fraction);
    const shown = s.state === 'ready' ? 100 : Math.floor(fraction * 100);
    percent.textContent = `${shown}%`;
    const milestone = Math.floor(shown / 25);
    if (s.state === 'uploading' && milestone !== lastAnnounced && shown < 100) {
      lastAnnounced = milestone;
      if (shown) announce(`Upload ${shown}%`);
    }
    const media = s.media
      ? [
          s.media.duration ? formatDuration(s.media.duration) : '',
          s.media.width && s.media.height ? `${s.media.width}×${s.media.height}` : '',
          s.media.has_video === false ? 'audio only' : '',
        ].filter(Boolean)
      : [];
    fileMeta.textContent = [formatBytes(s.total), ...media].join(' · ');
    card.classList.toggle('upload--done', s.state === 'ready');
    cancel.hidden = s.state === 'ready';
    let text = s.message;
    if (s.state === 'uploading' && !text) {
      text = `${formatBytes(s.sent)} of ${formatBytes(s.total)}`;
      const [first, last] = [s.samples[0], s.samples[s.samples.length - 1]];
      if (first && last && last[0] - first[0] > 400) {
        const rate = ((last[1] - first[1]) * 1000) / (last[0] - first[0]);
        if (rate > 0) {
          text += ` · ${formatBytes(rate)}/s · about ${formatDuration((s.total - s.sent) / rate)} left`;
        }
      }
    }
    status.textContent = text;
    if (s.creating) {
      start.textContent = 'Creating the job…';
      startHint.textContent = '';
    } else if (s.pendingOptions) {
      start.textContent = 'Starts when the upload finishes…';
      startHint.textContent = 'The job is created as soon as the last byte is in.';
    } else {
      start.textContent = 'Create clips and posts';
      startHint.textContent =
        s.state === 'ready'
          ? 'Ready.'
          : 'You can start now: the job begins when the upload finishes.';
    }
  };
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(render);
  };
  listeners.add(schedule);
  render();

  loadMaxSize().then((max) => {
    if (max) limit.textContent = `Up to ${formatBytes(max)}.`;
  });

  return () => {
    listeners.delete(schedule);
    if (frame) cancelAnimationFrame(frame);
    window.removeEventListener('dragover', swallow);
    window.removeEventListener('drop', swallow);
  };
}
