import { thrownText } from './redact.js';

/**
 * Reports that the caller's own code `what` (an event listener, a logger, a result sink) threw `err`, as a process
 * warning (its message cleaned as any text in an error message: at most 200 characters, keys redacted, no line
 * break or control character to forge a log line): it never reaches the call that ran it.
 */
export function warnThrown(what: string, err: unknown, code = 'MANA_LLM_LISTENER'): void {
  process.emitWarning(`mana-llm: ${what} threw: ${thrownText(err)}`, { code });
}
