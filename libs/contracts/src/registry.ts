import type { MessageContract } from './message';
import { TelemetryBatchMessage } from './telemetry-batch.schema';
import { AggregateBatchMessage } from './aggregate.schema';
import { SignalBatchMessage } from './signal.schema';
import { AlertEventMessage } from './alert-event.schema';
import { ControlRecordMessage } from './control-record.schema';
import { AuditEventMessage } from './audit-event.schema';
import { DlqRecordMessage } from './dlq-record.schema';
import { ErasureAckMessage } from './erasure.schema';

/** Every message contract, by its `hr-schema` id. Consumers refuse ids they don't know. */
export const messageContracts: ReadonlyMap<string, MessageContract> = new Map(
  [
    TelemetryBatchMessage,
    AggregateBatchMessage,
    SignalBatchMessage,
    AlertEventMessage,
    ControlRecordMessage,
    AuditEventMessage,
    DlqRecordMessage,
    ErasureAckMessage,
  ].map((c): [string, MessageContract] => [c.id, c]),
);
