/** The element with this id, typed; a missing one is a bug in index.html, so it throws. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from the page`);
  return element as T;
}

export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  className?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** Shows or hides a panel's error line. */
export function setPanelError(panel: HTMLElement, message: string | null): void {
  const line = panel.querySelector<HTMLElement>('.panel-error');
  if (!line) return;
  line.textContent = message ?? '';
  line.hidden = message === null;
  panel.classList.toggle('failed', message !== null);
}
