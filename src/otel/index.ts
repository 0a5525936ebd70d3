export { instrumentOpenTelemetry, type OpenTelemetryOptions } from './instrument.js';
