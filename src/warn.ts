/**
 * What the caller's own code throws (an event listener, a logger, a result sink) is reported here, as a process
 * warning, and never reaches the call that ran it.
 */

/** Reports that `what` threw `err` (its message cut to 200 characters). */
export function warnThrown(what: string, err: unknown, code = 'MANA_LLM_LISTENER'): void {
  const msg = (err instanceof Error ? err.message : String(err)).slice(0, 200);
  process.emitWarning(`mana-llm: ${what} threw: ${msg}`, { code });
}
