import { z } from 'zod';
import type { ApiOperation } from '@headroom/runtime';
import { ErasureController, ErasureParamsSchema, SubjectErasureParamsSchema } from './erasure.controller';

const json = (schema: z.ZodTypeAny) => ({ 'application/json': schema });
const Left = z.object({ store: z.string(), reason: z.string() });
const Ack = z.object({ status: z.enum(['done', 'partial']), deleted: z.record(z.number()), left: z.array(Left), at: z.string() });
const Progress = z
  .object({
    id: z.string().uuid(),
    scope: z.enum(['subject', 'tenant']),
    tenant: z.string(),
    requestedAt: z.string(),
    services: z.record(z.union([Ack, z.literal('pending')])),
    complete: z.boolean(),
    completedAt: z.string().nullable(),
    left: z.array(Left.extend({ service: z.string() })),
  })
  .passthrough();

export const ERASURE_OPERATIONS: readonly ApiOperation[] = [
  {
    handler: [ErasureController, 'requestSubject'],
    summary: 'Erase a data subject (by the user id producers send): every service deletes what it holds and acknowledges',
    request: { params: SubjectErasureParamsSchema },
    responses: {
      202: {
        description: 'Accepted: follow it at /v1/erasures/{id}. `duplicate`: this subject’s erasure was already open, and that one is returned',
        content: json(z.object({ id: z.string().uuid(), duplicate: z.literal(true).optional() })),
      },
    },
    errors: [404, 429, 503],
  },
  {
    handler: [ErasureController, 'progress'],
    summary: 'Progress of an erasure: each service’s acknowledgement, completion, and what is left with the reason',
    request: { params: ErasureParamsSchema },
    responses: { 200: { description: 'Progress', content: json(Progress) } },
    errors: [404],
  },
];
