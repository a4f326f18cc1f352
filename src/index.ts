/** The mrimtap library API. */
export * from './protocol/index.js';
export { renderEvent, renderFrameFields, hexdump } from './render/text.js';
export { eventToJson, type JsonEvent } from './render/json.js';
export * from './client/index.js';
export * from './server/index.js';
