// Job view (#/jobs/<id>): the seven stages live from the SSE stream, then the results.

import { getJob, getResults, openJobEvents } from '../api.js';
import { announce, formatDate, formatDuration, h, icon, mount, progressBar } from '../dom.js';
import { followEvents, StreamHttpError } from '../sse.js';
import { renderResults } from './results.js';

export const STAGES = [
  { name: 'audio', label: 'Extract audio' },
  { name: 'transcribe', label: 'Transcribe' },
  { name: 'chapters', label: 'Find chapters' },
  { name: 'highlights', label: 'Pick highlights' },
  { name: 'clips', label: 'Render clips' },
  { name: 'writing', label: 'Write posts' },
  { name: 'exports', label: 'Build exports' },
];
const STATUS_TEXT = {
  queued: 'Queued',
  pending: 'Waiting',
  running: 'Running',
  done: 'Done',
  failed: 'Failed',
  skipped: 'Skipped',
};

function statusIcon(status) {
  if (status === 'done') return icon('check', 'icon stage__icon');
  if (status === 'failed') return icon('cross', 'icon stage__icon');
  if (status === 'running')
    return h('span', { class: 'spinner stage__icon', 'aria-hidden': 'true' });
  return h('span', { class: 'stage__dot', 'aria-hidden': 'true' });
}

export function renderJob(main, jobId) {
  const controller = new AbortController();
  const { signal } = controller;
  const events = new EventTarget(); // `asset` events for the results view

  const title = h('h1', { class: 'job__title', id: 'job-title', testid: 'job-title' }, 'Loading…');
  const statusPill = h('span', { class: 'pill', testid: 'job-status' }, '…');
  const meta = h('span', { class: 'job__meta', testid: 'job-meta' });
  const overall = progressBar({
    label: 'Overall progress',
    testid: 'overall-progress',
    className: 'bar--large',
  });
  const overallText = h('span', { class: 'job__percent', testid: 'overall-percent' }, '0%');
  const streamState = h('p', { class: 'hint stream-state', testid: 'stream-state', hidden: true });
  const live = h('p', {
    class: 'visually-hidden',
    'aria-live': 'polite',
    testid: 'progress-announcer',
  });
  const errorBox = h('div', {
    class: 'alert alert--error',
    role: 'alert',
    testid: 'job-error',
    hidden: true,
  });
  const resultsBox = h('div', { class: 'results-slot' });

  const rows = new Map();
  const list = h('ol', { class: 'stages', testid: 'stages' });
  for (const stage of STAGES) {
    const bar = progressBar({
      label: `${stage.label} progress`,
      testid: `stage-${stage.name}-progress`,
      className: 'bar--thin',
    });
    const state = h('span', { class: 'stage__state' }, 'Waiting');
    const iconSlot = h('span', { class: 'stage__iconslot' }, statusIcon('pending'));
    const row = h(
      'li',
      {
        class: 'stage',
        testid: `stage-${stage.name}`,
        dataset: { status: 'pending', stage: stage.name },
      },
      iconSlot,
      h('span', { class: 'stage__label' }, stage.label),
      state,
      h('span', { class: 'stage__bar' }, bar.el),
    );
    rows.set(stage.name, { row, bar, state, iconSlot, status: 'pending', started: 0 });
    list.append(row);
  }
  const details = h(
    'details',
    { class: 'stages-box', open: true, testid: 'stages-box' },
    h('summary', {}, 'Processing steps'),
    list,
  );

  mount(
    main,
    h(
      'div',
      { class: 'job', testid: 'job-view', dataset: { jobId } },
      h(
        'section',
        { class: 'panel job__head', 'aria-labelledby': 'job-title' },
        h('a', { class: 'back', href: '#/jobs' }, '← All jobs'),
        h('div', { class: 'job__titlebar' }, title, statusPill),
        meta,
        h('div', { class: 'job__overall' }, overall.el, overallText),
        streamState,
        live,
        errorBox,
        details,
      ),
      resultsBox,
    ),
  );

  let job = null;
  let lastOverall = -1;
  let resultsShown = false;

  const setStatus = (status) => {
    statusPill.textContent = STATUS_TEXT[status] || status;
    statusPill.className = `pill pill--${status}`;
    main.querySelector('[data-testid="job-view"]').dataset.status = status;
  };

  const setOverall = (fraction) => {
    overall.set(fraction);
    const percent = Math.floor(Math.max(0, Math.min(1, fraction)) * 100);
    overallText.textContent = `${percent}%`;
    const step = Math.floor(percent / 10);
    if (step !== lastOverall) {
      lastOverall = step;
      live.textContent = `Overall progress ${percent}%`;
    }
  };

  const setStage = (name, status, progress, seconds) => {
    const entry = rows.get(name);
    if (!entry) return;
    if (status && status !== entry.status) {
      if (status === 'running') entry.started = performance.now();
      if (status === 'done' || status === 'failed') {
        const label = STAGES.find((s) => s.name === name)?.label || name;
        live.textContent = `${label}: ${STATUS_TEXT[status] || status}`;
      }
      entry.status = status;
      entry.row.dataset.status = status;
      entry.iconSlot.replaceChildren(statusIcon(status));
    }
    const value = entry.status === 'done' ? 1 : Number(progress ?? 0);
    entry.bar.set(value);
    let text = STATUS_TEXT[entry.status] || entry.status;
    if (entry.status === 'running' && value > 0) text = `${Math.floor(value * 100)}%`;
    if (entry.status === 'done') {
      const took = seconds ?? (entry.started ? (performance.now() - entry.started) / 1000 : null);
      if (took !== null && took !== undefined)
        text = took < 1 ? 'Done' : `Done · ${formatDuration(took)}`;
    }
    entry.state.textContent = text;
  };

  const applyJob = (data) => {
    job = data;
    title.textContent = data.filename || 'Untitled recording';
    document.title = `${data.filename || 'Job'} · Ascent Repurposer`;
    setStatus(data.status);
    const bits = [];
    if (data.created_at) bits.push(`Started ${formatDate(data.created_at)}`);
    if (data.media?.duration) bits.push(`${formatDuration(data.media.duration)} recording`);
    if (data.media && data.media.has_video === false) bits.push('audio only');
    meta.textContent = bits.join(' · ');
    for (const stage of data.stages || []) {
      setStage(stage.name, stage.status, stage.progress, stage.seconds);
    }
    setOverall(data.status === 'done' ? 1 : Number(data.progress ?? 0));
    if (data.status === 'failed') {
      const failed = (data.stages || []).find((stage) => stage.status === 'failed');
      const where = failed
        ? `${STAGES.find((s) => s.name === failed.name)?.label || failed.name}: `
        : '';
      errorBox.textContent = `This job failed. ${where}${data.error || failed?.error || 'Unknown error.'}`;
      errorBox.hidden = false;
    }
  };

  const showResults = async () => {
    if (resultsShown) return;
    resultsShown = true;
    details.open = false;
    mount(
      resultsBox,
      h(
        'p',
        { class: 'panel loading', 'aria-busy': 'true' },
        h('span', { class: 'spinner' }),
        ' Loading results…',
      ),
    );
    try {
      const results = await getResults(jobId, signal);
      if (signal.aborted) return;
      renderResults(resultsBox, { jobId, job, results, events, signal });
      announce('Your clips and posts are ready');
    } catch (error) {
      if (signal.aborted || error?.name === 'AbortError' || error?.status === 401) return;
      resultsShown = false;
      mount(
        resultsBox,
        h(
          'div',
          { class: 'alert alert--error', role: 'alert', testid: 'results-error' },
          `The results could not be loaded: ${error.message}`,
          ' ',
          h(
            'button',
            { class: 'btn btn--small', type: 'button', onclick: showResults },
            'Try again',
          ),
        ),
      );
    }
  };

  const follow = async () => {
    try {
      const final = await followEvents({
        open: (lastEventId, sig) => openJobEvents(jobId, lastEventId, sig),
        signal,
        onState(state, info) {
          if (state === 'reconnecting' && info.delay) {
            streamState.hidden = false;
            streamState.textContent = 'Connection lost. Reconnecting…';
          } else if (state === 'open') {
            streamState.hidden = true;
          }
        },
        onEvent(event) {
          const data = event.data || {};
          if (event.type === 'progress') {
            setStage(data.stage, data.status, data.progress);
            if (typeof data.overall === 'number') setOverall(data.overall);
            if (job && job.status !== 'running' && data.status === 'running') setStatus('running');
          } else if (event.type === 'asset') {
            events.dispatchEvent(new CustomEvent('asset', { detail: data }));
          } else if (event.type === 'done' || event.type === 'failed') {
            if (data && typeof data === 'object' && data.id) applyJob(data);
            else setStatus(event.type);
          }
        },
      });
      if (!final || signal.aborted) return;
      if (final.type === 'done') {
        setOverall(1);
        showResults();
      } else {
        announce('The job failed');
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof StreamHttpError && error.status === 401) return;
      streamState.hidden = false;
      streamState.textContent = `Live progress is not available (${error.message}).`;
    }
  };

  (async () => {
    try {
      applyJob(await getJob(jobId, signal));
    } catch (error) {
      if (signal.aborted || error?.status === 401) return;
      title.textContent = error?.status === 404 ? 'Job not found' : 'This job could not be loaded';
      setStatus('failed');
      statusPill.hidden = true;
      details.hidden = true;
      overall.el.parentElement.hidden = true;
      errorBox.textContent =
        error?.status === 404 ? 'There is no job with this id in your workspace.' : error.message;
      errorBox.hidden = false;
      return;
    }
    if (job.status === 'done') showResults();
    else if (job.status !== 'failed') follow();
  })();

  return () => controller.abort();
}
