// A tiny, safe Markdown renderer for generated posts.
//
// Safety model: the whole source is HTML-escaped FIRST; only then are Markdown constructs turned
// into a fixed set of tags this module writes itself (h1-h6, p, br, strong, em, code, pre,
// ul/ol/li, blockquote, hr, a). Nothing from the input can open a tag or an attribute, and links
// are kept only for http:, https: and mailto: targets.
//
// Supported: ATX headings, **bold** / __bold__, *italic* / _italic_, `code`, fenced code blocks,
// - / * / + and 1. lists, > blockquotes, --- rules, [text](https://...) links, and paragraphs
// in which single line breaks are kept (social posts depend on them).

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escape text for use in HTML element content and in double-quoted attribute values. */
export function escapeHtml(text) {
  return String(text ?? '').replace(/[&<>"']/g, (ch) => ESCAPES[ch]);
}

const SAFE_URL = /^(?:https?:\/\/|mailto:)/i;
const PLACEHOLDER = /\u0000(\d+)\u0000/g;

/** Inline Markdown on text that is ALREADY escaped. */
function renderInline(escaped) {
  const kept = [];
  const keep = (html) => `\u0000${kept.push(html) - 1}\u0000`;
  let out = escaped
    // Code spans first: their content is left alone.
    .replace(/`([^`\n]+)`/g, (_, code) => keep(`<code>${code}</code>`))
    // Links: [text](url) with a safe scheme only; otherwise the text stays as typed.
    .replace(/\[([^\]\n]+)\]\(([^()\s]+)\)/g, (whole, label, url) =>
      SAFE_URL.test(url) && !url.includes('\u0000')
        ? keep(`<a href="${url}" target="_blank" rel="noopener noreferrer nofollow">${label}</a>`)
        : whole,
    )
    .replace(/\*\*(?=\S)([^\n]*?\S)\*\*/g, '<strong>$1</strong>')
    .replace(/(^|[^\w])__(?=\S)([^\n]*?\S)__(?!\w)/g, '$1<strong>$2</strong>')
    .replace(/(^|[^\w*])\*([^\s*](?:[^*\n]*?[^\s*])?)\*(?![\w*])/g, '$1<em>$2</em>')
    .replace(/(^|[^\w])_([^\s_](?:[^_\n]*?[^\s_])?)_(?!\w)/g, '$1<em>$2</em>');
  // Restore kept pieces (a kept link label may itself hold a code span).
  for (let i = 0; i < 3 && out.includes('\u0000'); i += 1) {
    out = out.replace(PLACEHOLDER, (_, n) => kept[Number(n)]);
  }
  return out;
}

const HEADING = /^(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const BULLET = /^[ \t]*[-*+][ \t]+(.*)$/;
const NUMBERED = /^[ \t]*(\d{1,9})[.)][ \t]+(.*)$/;
const QUOTE = /^[ \t]{0,3}&gt;[ \t]?(.*)$/; // lines are escaped before block parsing
const FENCE = /^[ \t]{0,3}(```|~~~)/;

/**
 * Render Markdown to an HTML string that is safe to assign to innerHTML.
 * `headingOffset` shifts heading levels (1 turns `#` into h2), capped at h6.
 */
export function renderMarkdown(source, { headingOffset = 0 } = {}) {
  const text = String(source ?? '')
    .replace(/\u0000/g, '')
    .replace(/\r\n?/g, '\n');
  const lines = escapeHtml(text).split('\n');
  return renderBlocks(lines, headingOffset);
}

function renderBlocks(lines, headingOffset) {
  const html = [];
  let paragraph = [];
  let list = null; // { tag, start, items: [string] }

  const flushParagraph = () => {
    if (paragraph.length) html.push(`<p>${paragraph.map(renderInline).join('<br>')}</p>`);
    paragraph = [];
  };
  const flushList = () => {
    if (!list) return;
    const start = list.tag === 'ol' && list.start !== 1 ? ` start="${list.start}"` : '';
    const items = list.items.map((item) => `<li>${renderInline(item)}</li>`).join('');
    html.push(`<${list.tag}${start}>${items}</${list.tag}>`);
    list = null;
  };
  const flush = () => {
    flushParagraph();
    flushList();
  };

  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    if (!line.trim()) {
      flush();
      continue;
    }
    if (FENCE.test(line)) {
      flush();
      const fence = line.match(FENCE)[1];
      const code = [];
      for (i += 1; i < lines.length && !lines[i].trimStart().startsWith(fence); i += 1) {
        code.push(lines[i]);
      }
      html.push(`<pre><code>${code.join('\n')}</code></pre>`);
      continue;
    }
    const heading = line.match(HEADING);
    if (heading) {
      flush();
      const level = Math.min(6, heading[1].length + headingOffset);
      html.push(`<h${level}>${renderInline(heading[2])}</h${level}>`);
      continue;
    }
    if (RULE.test(line)) {
      flush();
      html.push('<hr>');
      continue;
    }
    if (QUOTE.test(line)) {
      flush();
      const quoted = [];
      while (i < lines.length && QUOTE.test(lines[i])) {
        quoted.push(lines[i].match(QUOTE)[1]);
        i += 1;
      }
      i -= 1;
      html.push(`<blockquote>${renderBlocks(quoted, headingOffset)}</blockquote>`);
      continue;
    }
    const bullet = line.match(BULLET);
    const numbered = bullet ? null : line.match(NUMBERED);
    if (bullet || numbered) {
      flushParagraph();
      const tag = bullet ? 'ul' : 'ol';
      if (!list || list.tag !== tag) {
        flushList();
        list = { tag, start: numbered ? Number(numbered[1]) : 1, items: [] };
      }
      list.items.push(bullet ? bullet[1] : numbered[2]);
      continue;
    }
    if (list && /^[ \t]+\S/.test(line)) {
      // An indented line continues the last list item.
      list.items[list.items.length - 1] += ` ${line.trim()}`;
      continue;
    }
    flushList();
    paragraph.push(line);
  }
  flush();
  return html.join('\n');
}
