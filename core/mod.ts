// nsq-ts core: runtime-neutral nsqd, protocols and the ports adapters implement.
export * from './ports.ts';
export * from './errors.ts';
export { Logger, silentLogger, type LogLevel, type LogFormat } from './log.ts';
export { NSQD, type NsqdDeps, parseAddress } from './nsqd/nsqd.ts';
export { NSQD_FLAGS, VERSION, buildOptions, defaultOptions, type NsqdOptions } from './nsqd/options.ts';
export { parseFlags, formatHelp, type FlagSpec } from './config/flags.ts';
export { parseDuration, formatDuration } from './config/duration.ts';
export { isValidTopicName, isValidChannelName } from './protocol/names.ts';
export { NSQLookupd, type LookupdDeps } from './lookupd/lookupd.ts';
export { LOOKUPD_FLAGS, buildLookupdOptions, defaultLookupdOptions, type LookupdOptions } from './lookupd/options.ts';
export { RegistrationDB, Producer, type PeerInfo, type Registration } from './lookupd/registration_db.ts';
