import type { ReceiverFactory } from './receiver';
import { otlpHttpReceiver } from './otlp-http/otlp-http.receiver';
import { prometheusRemoteWriteReceiver } from './prometheus-remote-write/prometheus-remote-write.receiver';

/**
 * Every receiver the collectors service can run, by type. Adding a way in is adding a folder under
 * `receivers/` with its factory, and one line here.
 */
export const RECEIVERS: readonly ReceiverFactory[] = [
  prometheusRemoteWriteReceiver,
  otlpHttpReceiver,
];

export function receiverByPath(path: string): ReceiverFactory | undefined {
  return RECEIVERS.find((r) => r.path === path);
}
