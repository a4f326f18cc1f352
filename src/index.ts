/** The mrimtap library API. */
export * from './protocol/index.js';
export { renderEvent, renderFrameFields, renderTapEvent, hexdump } from './render/text.js';
export { FILTER_KEYS, FILTER_SYNTAX, FilterError, parseFilter, type EventFilter } from './render/filter.js';
export { formatEndpoint, parseEndpoint, type Endpoint } from './net/endpoint.js';
export * from './client/index.js';
export * from './server/index.js';
export { isConnEvent, type AnyEvent, type ConnEvent, type TapEvent } from './tap/events.js';
export { ConnectionTap, TapHub, type TapHubOptions, type TapSink } from './tap/tap.js';
export { eventToJson, recordToTapEvent, tapEventToJson, type JsonConnEvent, type JsonEvent, type TapJson } from './tap/line.js';
export { MASK, maskFields, maskRaw, maskSocks } from './tap/mask.js';
export { MrimProxy, type MapRule, type ProxyOptions } from './proxy/proxy.js';
export { SnifferStartError, startSniffer, type Sniffer, type SnifferOptions } from './proxy/sniffer.js';
export { FORMATS, createWriter, openCapture } from './capture/open.js';
export { CaptureFileError, type CaptureEntry, type CaptureWriter, type FileFormat, type OpenedCapture, type OpenOptions, type RecordingInfo } from './capture/format.js';
export { CAPTURE_FORMAT, CAPTURE_VERSION, defaultCapturePath, readCapture, type CaptureHeader, type CaptureItem } from './capture/jsonl.js';
export { CaptureFormatError, parseCapture, readPcapFile, streamBytes, type Capture, type CaptureWarning, type TcpConnection } from './capture/pcap/index.js';
export { decodePcap } from './capture/pcap-decode.js';
