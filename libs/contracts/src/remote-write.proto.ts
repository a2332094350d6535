import { Root, type Type } from 'protobufjs';

/**
 * The part of Prometheus remote_write 1.0's `prometheus.WriteRequest` (prompb, proto3) Headroom
 * speaks — read by the collectors' remote_write receiver, written by the exporters' remote_write
 * sink (one descriptor, so both ends agree) — as a protobufjs JSON descriptor written from the
 * protocol's specification (https://prometheus.io/docs/specs/remote_write_spec/):
 *
 *   WriteRequest { repeated TimeSeries timeseries = 1; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }   // timestamp: ms since the epoch
 *
 * Left out on purpose (skipped by a decoder as unknown fields, never written): `WriteRequest.metadata`
 * (3, metric types and help, sent in their own requests), `TimeSeries.exemplars` (3) and
 * `TimeSeries.histograms` (4, native histograms). Repeated scalars are packed in proto3 and
 * protobufjs reads both the packed and the unpacked encoding.
 */
const descriptor = {
  nested: {
    prometheus: {
      nested: {
        WriteRequest: { fields: { timeseries: { rule: 'repeated', type: 'TimeSeries', id: 1 } } },
        TimeSeries: {
          fields: {
            labels: { rule: 'repeated', type: 'Label', id: 1 },
            samples: { rule: 'repeated', type: 'Sample', id: 2 },
          },
        },
        Label: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        Sample: { fields: { value: { type: 'double', id: 1 }, timestamp: { type: 'int64', id: 2 } } },
      },
    },
  },
};

export const remoteWriteRoot = Root.fromJSON(descriptor);
export const WriteRequestType: Type = remoteWriteRoot.lookupType('prometheus.WriteRequest');

/** int64 as protobufjs hands it over: a number, or a Long when the `long` package is installed. */
export type Int64 = number | { toNumber(): number };

export interface PromLabel {
  name: string;
  value: string;
}
export interface PromSample {
  value: number;
  timestamp: Int64;
}
export interface PromTimeSeries {
  labels: PromLabel[];
  samples: PromSample[];
}
export interface PromWriteRequest {
  timeseries: PromTimeSeries[];
}
