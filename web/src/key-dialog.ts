import { byId } from './dom.js';

/**
 * Asks for a read key after a 401. Resolves with the key, or null when the user cancels.
 * One dialog at a time: a second 401 while it is open waits for the same answer.
 */
export class KeyDialog {
  private readonly dialog = byId<HTMLDialogElement>('key-dialog');
  private readonly input = byId<HTMLInputElement>('key-input');
  private readonly refused = byId('key-error');
  private pending: Promise<string | null> | undefined;

  /** `refused`: why the last key did not work, or null on the first ask. */
  ask(refused: string | null): Promise<string | null> {
    if (this.pending) return this.pending;
    this.refused.textContent = refused ?? '';
    this.refused.hidden = refused === null;
    this.input.value = '';
    this.pending = new Promise<string | null>((resolve) => {
      const form = byId<HTMLFormElement>('key-form');
      const cancel = byId<HTMLButtonElement>('key-cancel');
      const finish = (key: string | null) => {
        form.removeEventListener('submit', onSubmit);
        cancel.removeEventListener('click', onCancel);
        this.dialog.removeEventListener('cancel', onCancel);
        if (this.dialog.open) this.dialog.close();
        this.pending = undefined;
        resolve(key);
      };
      const onSubmit = (event: SubmitEvent) => {
        event.preventDefault();
        const key = this.input.value.trim();
        if (key) finish(key);
      };
      const onCancel = (event: Event) => {
        event.preventDefault();
        finish(null);
      };
      form.addEventListener('submit', onSubmit);
      cancel.addEventListener('click', onCancel);
      this.dialog.addEventListener('cancel', onCancel); // Escape
      this.dialog.showModal();
      this.input.focus();
    });
    return this.pending;
  }
}
