// nsq-ts core: runtime-neutral nsqd, protocols and the ports adapters implement.
export * from './ports.ts';
export * from './errors.ts';
export { Logger, silentLogger, type LogLevel, type LogFormat } from './log.ts';
export { NSQD, type NsqdDeps, parseAddress } from './nsqd/nsqd.ts';
export { NSQD_FLAGS, VERSION, buildOptions, defaultOptions, type NsqdOptions } from './nsqd/options.ts';
export { parseFlags, formatHelp, type FlagSpec } from './config/flags.ts';
export { parseDuration, formatDuration } from './config/duration.ts';
export { isValidTopicName, isValidChannelName } from './protocol/names.ts';
