import { createRequire } from 'node:module';
import { ConfigError } from './errors.js';

/** `require(name)` of an optional peer dependency; a ConfigError with `message` when it is not installed. */
export function requirePeer<T>(name: string, message: string): T {
  try {
    return createRequire(import.meta.url)(name) as T;
  } catch (err) {
    throw new ConfigError(message, [], { cause: err });
  }
}
