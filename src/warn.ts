import { thrownText } from './redact.js';

/**
 * Reports that the caller's own code `what` (an event listener, a logger, a result sink) threw `err`, as a process
 * warning (its message cleaned: no key, no line break to forge a log line): it never reaches the call that ran it.
 */
export function warnThrown(what: string, err: unknown, code = 'MANA_LLM_LISTENER'): void {
  process.emitWarning(`mana-llm: ${what} threw: ${thrownText(err)}`, { code });
}
