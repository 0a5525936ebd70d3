export type { OpenedStream } from '../routing/open-stream.js';
export type { OpenAIErrorObject } from './errors.js';
export { createFetchHandler } from './fetch-handler.js';
export { createNodeHandler } from './node-handler.js';
export type { HttpHandlerOptions, MetricsSource, RequestLogEntry } from './options.js';
