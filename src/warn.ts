import { textOf } from './redact.js';

/**
 * Reports that the caller's own code `what` (an event listener, a logger, a result sink) threw `err`, as a process
 * warning (its message cut to 200 characters): it never reaches the call that ran it.
 */
export function warnThrown(what: string, err: unknown, code = 'MANA_LLM_LISTENER'): void {
  const msg = textOf(err).slice(0, 200);
  process.emitWarning(`mana-llm: ${what} threw: ${msg}`, { code });
}
