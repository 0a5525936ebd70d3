import { describe, expect, it } from 'vitest';
import { Listeners } from './listeners.js';

describe('Listeners', () => {
  it('calls only the listeners present when the event began: one added during it hears the next event', () => {
    const l = new Listeners<number>('health');
    const heard: string[] = [];
    l.add((v) => {
      heard.push(`first ${v}`);
      l.add((w) => heard.push(`late ${w}`));
    });
    l.emit(1);
    expect(heard).toEqual(['first 1']);
  });
});
