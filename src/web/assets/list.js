// @ts-check
/**
 * A virtual list: a spacer as tall as every row together, and only the rows in sight (plus a margin)
 * as DOM nodes, moved and refilled as the list scrolls — so tens of thousands of packets scroll like a
 * hundred. Rows have one fixed height.
 */

const OVERSCAN = 12;

export class VirtualList {
  /**
   * @param {HTMLElement} viewport the scrolling element
   * @param {HTMLElement} spacer a child of it whose height makes the scroll range
   * @param {{ rowHeight: number, render: (el: HTMLElement, index: number) => void }} opts
   *   `render` fills a row element for the row at `index` (it may be called again with the same one).
   */
  constructor(viewport, spacer, opts) {
    this.viewport = viewport;
    this.spacer = spacer;
    this.rowHeight = opts.rowHeight;
    this.renderRow = opts.render;
    this.count = 0;
    /** @type {HTMLElement[]} */
    this.pool = [];
    this.scheduled = false;
    viewport.addEventListener('scroll', () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(viewport);
  }

  /** @param {number} count */
  setCount(count) {
    this.count = count;
    this.spacer.style.height = `${count * this.rowHeight}px`;
    this.schedule();
  }

  /** Refills the rows in sight on the next frame (after data for them arrived). */
  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.render();
    });
  }

  /** The rows in sight, `[first, end)`. */
  visibleRange() {
    const first = Math.floor(this.viewport.scrollTop / this.rowHeight);
    const end = Math.min(this.count, Math.ceil((this.viewport.scrollTop + this.viewport.clientHeight) / this.rowHeight));
    return { first, end };
  }

  /** Whether the list is scrolled to its end (a live list then follows new rows). */
  atEnd() {
    return this.viewport.scrollTop + this.viewport.clientHeight >= this.count * this.rowHeight - this.rowHeight;
  }

  /** @param {number} index @param {'nearest' | 'center' | 'end'} [how] */
  scrollTo(index, how = 'nearest') {
    const top = index * this.rowHeight;
    const height = this.viewport.clientHeight;
    if (how === 'end') this.viewport.scrollTop = this.count * this.rowHeight;
    else if (how === 'center') this.viewport.scrollTop = top - height / 2 + this.rowHeight / 2;
    else if (top < this.viewport.scrollTop) this.viewport.scrollTop = top;
    else if (top + this.rowHeight > this.viewport.scrollTop + height) this.viewport.scrollTop = top + this.rowHeight - height;
    this.schedule();
  }

  render() {
    const { first, end } = this.visibleRange();
    const from = Math.max(0, first - OVERSCAN);
    const to = Math.min(this.count, end + OVERSCAN);
    while (this.pool.length < to - from) {
      const el = document.createElement('div');
      el.className = 'row';
      this.viewport.appendChild(el);
      this.pool.push(el);
    }
    for (let i = 0; i < this.pool.length; i++) {
      const el = this.pool[i];
      const index = from + i;
      if (index >= to) {
        el.hidden = true;
        continue;
      }
      el.hidden = false;
      el.style.transform = `translateY(${index * this.rowHeight}px)`;
      this.renderRow(el, index);
    }
  }
}
