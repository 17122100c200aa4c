// Jobs list (#/jobs): the workspace's recent jobs, refreshed while any is still running.

import { listJobs } from '../api.js';
import { formatDate, formatDuration, h, mount, progressBar } from '../dom.js';

const STATUS_TEXT = { queued: 'Queued', running: 'Running', done: 'Done', failed: 'Failed' };
const REFRESH_MS = 3000;

function jobRow(job) {
  const live = job.status === 'queued' || job.status === 'running';
  const bar = live ? progressBar({ label: 'Progress', className: 'bar--thin' }) : null;
  bar?.set(job.progress ?? 0);
  const details = [formatDate(job.created_at)];
  if (job.media?.duration) details.push(formatDuration(job.media.duration));
  if (live) details.push(`${Math.floor((job.progress ?? 0) * 100)}%`);
  return h(
    'li',
    {},
    h(
      'a',
      {
        class: 'jobrow',
        href: `#/jobs/${encodeURIComponent(job.id)}`,
        testid: 'job-row',
        dataset: { jobId: job.id, status: job.status },
      },
      h(
        'span',
        { class: 'jobrow__main' },
        h('strong', { class: 'jobrow__name' }, job.filename || 'Untitled recording'),
        h('span', { class: 'hint' }, details.filter(Boolean).join(' · ')),
        job.status === 'failed' && job.error
          ? h('span', { class: 'jobrow__error' }, job.error)
          : null,
      ),
      h('span', { class: `pill pill--${job.status}` }, STATUS_TEXT[job.status] || job.status),
      bar ? h('span', { class: 'jobrow__bar' }, bar.el) : null,
    ),
  );
}

export function renderJobs(main) {
  const controller = new AbortController();
  let timer = 0;
  const list = h('ul', { class: 'jobs', testid: 'jobs-list', 'aria-busy': 'true' });
  const message = h('div', { class: 'jobs-message' });
  mount(
    main,
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'jobs-title' },
      h(
        'div',
        { class: 'section__head' },
        h('h1', { id: 'jobs-title' }, 'Jobs'),
        h('a', { class: 'btn btn--primary btn--small', href: '#/' }, 'New upload'),
      ),
      message,
      list,
    ),
  );

  const load = async () => {
    try {
      const jobs = await listJobs(controller.signal);
      list.setAttribute('aria-busy', 'false');
      if (!jobs.length) {
        list.replaceChildren();
        mount(
          message,
          h(
            'div',
            { class: 'empty', testid: 'jobs-empty' },
            h('p', {}, 'No jobs yet.'),
            h('a', { class: 'btn', href: '#/' }, 'Upload your first recording'),
          ),
        );
      } else {
        message.replaceChildren();
        mount(list, jobs.map(jobRow));
      }
      if (jobs.some((job) => job.status === 'queued' || job.status === 'running')) {
        timer = setTimeout(load, REFRESH_MS);
      }
    } catch (error) {
      if (controller.signal.aborted || error?.name === 'AbortError' || error?.status === 401)
        return;
      list.setAttribute('aria-busy', 'false');
      mount(
        message,
        h(
          'div',
          { class: 'alert alert--error', role: 'alert', testid: 'jobs-error' },
          `The jobs could not be loaded: ${error.message} `,
          h('button', { class: 'btn btn--small', type: 'button', onclick: load }, 'Try again'),
        ),
      );
    }
  };
  load();

  return () => {
    controller.abort();
    clearTimeout(timer);
  };
}
