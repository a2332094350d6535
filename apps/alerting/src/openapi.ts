import { z } from 'zod';
import type { ApiOperation } from '@headroom/runtime';
import { AlertGroupsController, SilenceBodySchema } from './dispatch/alert-groups.controller';

const json = (schema: z.ZodTypeAny) => ({ 'application/json': schema });

const SilenceSchema = z
  .object({ id: z.string(), matchers: z.array(z.string()), startsAt: z.number(), endsAt: z.number(), endOnResolve: z.boolean(), createdBy: z.string(), comment: z.string() })
  .passthrough();
const GroupSchema = z
  .object({ groupKey: z.string(), receiver: z.string(), groupLabels: z.record(z.string()), alerts: z.array(z.object({}).passthrough()), acknowledged: z.unknown() })
  .passthrough();

export const ALERTING_OPERATIONS: readonly ApiOperation[] = [
  {
    handler: [AlertGroupsController, 'groups'],
    summary: 'The tenant’s alert groups',
    responses: { 200: { description: 'Groups', content: json(z.object({ groups: z.array(GroupSchema) })) } },
  },
  {
    handler: [AlertGroupsController, 'ack'],
    summary: 'Acknowledge an alert group (stops its escalation)',
    request: { params: z.object({ groupKey: z.string() }) },
    responses: { 200: { description: 'The outcome', content: json(z.object({ groupKey: z.string(), outcome: z.string() })) } },
    errors: [404],
  },
  {
    handler: [AlertGroupsController, 'silences'],
    summary: 'The tenant’s silences',
    responses: { 200: { description: 'Silences', content: json(z.object({ silences: z.array(SilenceSchema) })) } },
  },
  {
    handler: [AlertGroupsController, 'createSilence'],
    summary: 'Create a silence',
    request: { body: { content: json(SilenceBodySchema) } },
    responses: { 201: { description: 'The silence', content: json(SilenceSchema) } },
  },
  {
    handler: [AlertGroupsController, 'expireSilence'],
    summary: 'Expire a silence',
    request: { params: z.object({ id: z.string() }) },
    responses: { 200: { description: 'Expired', content: json(z.object({ id: z.string(), expired: z.literal(true) })) } },
    errors: [404],
  },
  {
    handler: [AlertGroupsController, 'slackAction'],
    summary: 'Slack interactivity (the Acknowledge button), trusted through Slack’s request signature',
    request: {
      headers: z.object({ 'x-slack-request-timestamp': z.string(), 'x-slack-signature': z.string() }),
      body: { content: { 'application/x-www-form-urlencoded': { type: 'object', properties: { payload: { type: 'string' } } } } },
    },
    responses: { 200: { description: 'The outcome', content: json(z.object({ outcome: z.string() })) } },
    // Signed by Slack, not by a Headroom credential: a bad signature is 401, another workspace 403.
    errors: [401, 403, 404, 503],
  },
];
