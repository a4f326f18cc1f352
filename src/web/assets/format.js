// @ts-check
/** Small helpers of the page: making elements, and times, durations and counts in words. */

/**
 * An element with a class and content (text, or nodes).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag @param {string} [className] @param {string | Node[]} [content]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, className, content) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (typeof content === 'string') node.textContent = content;
  else if (content) node.append(...content);
  return node;
}

/** `18:04:54.011`, local time as the CLI prints it. @param {number} ms */
export function formatClock(ms) {
  const d = new Date(ms);
  const p = (/** @type {number} */ n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** @param {number} ms */
export function formatDuration(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** ` +8 ms` after a reply's request type, or nothing. @param {number | undefined} ms @param {string} [sep] */
export function formatLatency(ms, sep = ' ') {
  return ms === undefined ? '' : `${sep}+${formatDuration(ms)}`;
}

/** @param {number} n */
export const formatCount = (n) => n.toLocaleString('en-US');
