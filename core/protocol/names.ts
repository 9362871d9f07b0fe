// Topic and channel names, exactly as NSQ's internal/protocol/names.go:
// 1 to 64 bytes of [.a-zA-Z0-9_-], optionally ending in "#ephemeral".
const VALID_NAME = /^[.a-zA-Z0-9_-]+(#ephemeral)?$/;

export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= 64 && VALID_NAME.test(name);
}

export const isValidTopicName = isValidName;
export const isValidChannelName = isValidName;

export function isEphemeral(name: string): boolean {
  return name.endsWith('#ephemeral');
}
