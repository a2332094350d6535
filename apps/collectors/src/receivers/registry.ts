import type { ReceiverFactory } from './receiver';

/**
 * Every receiver the collectors service can run, by type. Adding a way in is adding a folder under
 * `receivers/` with its factory, and one line here.
 */
export const RECEIVERS: readonly ReceiverFactory[] = [];

export function receiverByPath(path: string): ReceiverFactory | undefined {
  return RECEIVERS.find((r) => r.path === path);
}
